//! `vxgwctl`: the operator's CLI over vxgw's control socket.
//! The control protocol arrives with the management-plane issue; until then this
//! binary only reports its version so packaging and CI can already ship it.
use clap::Parser;

#[derive(Parser)]
#[command(
    name = "vxgwctl",
    version,
    about = "Control a running vxgw over its Unix socket"
)]
struct Cli {}

fn main() {
    let _ = Cli::parse();
    eprintln!("vxgwctl: no control socket protocol yet (see issue: management plane)");
    std::process::exit(2);
}
