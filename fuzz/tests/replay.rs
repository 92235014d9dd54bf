//! Replays the seed corpus (`fuzz/corpus/<target>/`) and every crash the fuzzer found
//! (`fuzz/regressions/<target>/`) through the targets, with all their checks: the
//! crashes stay fixed, and the seeds still reach the paths they were made for.

use std::path::Path;

use vxgw_fuzz::{run, Role};

fn replay(dir: &str) -> usize {
    let mut n = 0;
    for role in Role::ALL {
        let d = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(dir)
            .join(role.name());
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        for f in files {
            if f.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            {
                continue;
            }
            let data = std::fs::read(&f).expect("readable");
            let r = std::panic::catch_unwind(|| run(role, &data));
            assert!(r.is_ok(), "{}: the check above failed", f.display());
            n += 1;
        }
    }
    n
}

/// The seeds pass every check and, together, reach every path the corpus is made
/// for (the pipeline's events).
#[test]
fn corpus_replays_clean_and_reaches_every_path() {
    let n = replay("corpus");
    assert!(n >= 60, "the seed corpus has {n} inputs");
    let reached = vxgw_fuzz::reached();
    use vxgw::pipeline::Event::*;
    for e in [
        Decapsulated,
        Encapsulated,
        AccessOut,
        Flooded,
        FdbLearned,
        FdbMoved,
        ArpReplied,
        ArpSuppressed,
        EchoReplied,
        NeighbourLearned,
        MeshNewConnections,
        MeshToBackend,
        MeshToClient,
        MssClamped,
        IcmpErrorsTranslated,
        IcmpFragNeededSent,
    ] {
        let n = reached.iter().find(|(x, _)| *x == e).map_or(0, |r| r.1);
        assert!(n > 0, "no seed reaches {e:?}: {reached:?}");
    }
}

#[test]
fn regressions_replay_clean() {
    replay("regressions");
}
