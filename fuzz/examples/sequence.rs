//! Runs inputs through a target in one process, in the order given, as afl-fuzz's
//! persistent mode does, and names the first whose check fails: for a crash that
//! does not reproduce alone (state kept across inputs), give the queue before it.
//!
//!   cargo run --profile fuzz -p vxgw-fuzz --example sequence -- ROLE FILE...
use vxgw_fuzz::{run, Role};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let role = Role::ALL
        .into_iter()
        .find(|r| args.first().is_some_and(|a| r.name() == a))
        .expect("usage: sequence ROLE FILE... (ROLE: underlay, access or external)");
    for f in &args[1..] {
        let data = std::fs::read(f).expect("input");
        if std::panic::catch_unwind(|| run(role, &data)).is_err() {
            println!("the check failed at {f}");
            std::process::exit(1);
        }
    }
    println!("{} inputs, every check passed", args.len() - 1);
}
