//! A quick random-mutation run of the targets without AFL (a smoke test of the
//! harness and its speed): `cargo run -p vxgw-fuzz --example smoke -- N`.
//! Mutates the seed corpus with a xorshift generator; stops at the first failed check.

use std::path::Path;
use std::time::Instant;

use vxgw_fuzz::{run, Role};

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for role in Role::ALL {
        let mut inputs: Vec<Vec<u8>> = std::fs::read_dir(root.join(role.name()))
            .expect("corpus")
            .flatten()
            .map(|e| std::fs::read(e.path()).expect("seed"))
            .collect();
        inputs.sort();
        let t = Instant::now();
        for i in 0..n {
            let mut x = inputs[(rnd() % inputs.len() as u64) as usize].clone();
            for _ in 0..1 + rnd() % 4 {
                let at = (rnd() % x.len().max(1) as u64) as usize;
                match rnd() % 4 {
                    0 if !x.is_empty() => x[at] ^= 1 << (rnd() % 8),
                    1 if !x.is_empty() => x[at] = rnd() as u8,
                    2 if x.len() > 1 => x.truncate(at.max(1)),
                    _ => x.insert(at.min(x.len()), rnd() as u8),
                }
            }
            if i % 2 == 0 && !x.is_empty() {
                x[0] |= 0x30;
            }
            let r = std::panic::catch_unwind(|| run(role, &x));
            if r.is_err() {
                let out = format!("/tmp/vxgw-smoke-{}-{i}", role.name());
                std::fs::write(&out, &x).expect("written");
                eprintln!("check failed; input in {out}");
                std::process::exit(1);
            }
        }
        let s = t.elapsed().as_secs_f64();
        println!(
            "{}: {n} inputs in {s:.1} s, {:.0}/s",
            role.name(),
            n as f64 / s
        );
    }
}
