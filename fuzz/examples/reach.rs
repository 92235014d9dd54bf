//! Replays AFL queue directories through a target and prints the pipeline events and
//! drop reasons its frames reached: `cargo run -p vxgw-fuzz --example reach -- ROLE DIR`.
use vxgw_fuzz::{reached, run, Outcome, Role};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let role = Role::ALL
        .into_iter()
        .find(|r| r.name() == args[1])
        .expect("role: underlay, access or external");
    let mut drops = std::collections::BTreeMap::new();
    let mut n = 0;
    for e in std::fs::read_dir(&args[2])
        .expect("queue directory")
        .flatten()
    {
        if !e.path().is_file() {
            continue;
        }
        let data = std::fs::read(e.path()).expect("input");
        for r in run(role, &data) {
            for o in r.outcomes {
                if let Outcome::Drop(d) = o {
                    *drops.entry(d.name()).or_insert(0u64) += 1;
                }
            }
        }
        n += 1;
    }
    println!("{n} inputs");
    for (e, c) in reached() {
        println!("event {:<28} {c}", e.name());
    }
    for (d, c) in drops {
        println!("drop  {d:<28} {c}");
    }
}
