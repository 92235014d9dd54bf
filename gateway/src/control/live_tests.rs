//! Live changes without DPDK: the running configuration, the published snapshot, the
//! FDB and neighbour tables and the state file after every command, and that refused
//! commands change none of them.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::commands::dispatch;
use super::config::Config;
use super::live::Live;
use crate::tables::fdb::{Fdb, FdbDest, FdbFilter, LearnOutcome};
use crate::tables::neighbours::Neighbours;
use crate::tables::snapshot::{ResolvedPort, Snapshot, SnapshotCell};
use crate::wire::MacAddr;

const CFG: &str = r#"
[gateway]
vtep_ip = "172.30.0.1"
fdb_capacity = 1024

[[port]]
name = "p0"
roles = ["underlay"]

[[port]]
name = "p1"
roles = ["access"]

[[vtep]]
ip = "172.30.0.11"

[[vtep]]
ip = "172.30.0.12"

[[neighbour]]
ip = "172.30.0.11"
mac = "02:00:00:00:11:11"

[[vni]]
id = 4096
flood = ["172.30.0.11"]
access = [{ port = "p1", vlan = 100 }]

[[fdb]]
vni = 4096
mac = "02:42:0a:ff:00:0d"
vtep = "172.30.0.11"
"#;

struct Rig {
    live: Live,
    cell: Arc<SnapshotCell>,
    fdb: Arc<Fdb>,
    neigh: Arc<Neighbours>,
    dir: PathBuf,
    state: PathBuf,
}

impl Drop for Rig {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn rig(tag: &str) -> Rig {
    let dir = std::env::temp_dir().join(format!("vxgw-live-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    rig_with_state(dir.clone(), dir.join("running.toml"))
}

fn rig_with_state(dir: PathBuf, state: PathBuf) -> Rig {
    let cfg = Config::parse(CFG).unwrap();
    let ports: HashMap<String, ResolvedPort> = [("p0", 0u16), ("p1", 1)]
        .iter()
        .map(|&(n, id)| {
            (
                n.to_string(),
                ResolvedPort {
                    id,
                    mac: MacAddr([2, 0, 0, 0, 0, id as u8]),
                    mtu: 1500,
                },
            )
        })
        .collect();
    let snap = Snapshot::build(&cfg, &|n| ports.get(n).copied(), 1).unwrap();
    let cell = Arc::new(SnapshotCell::new(snap));
    let fdb = Arc::new(Fdb::new(1024, 64));
    let neigh = Arc::new(Neighbours::new(64));
    let live = Live::new(
        cfg,
        ports,
        cell.clone(),
        fdb.clone(),
        neigh.clone(),
        Some(state.clone()),
    );
    live.install_statics().unwrap();
    Rig {
        live,
        cell,
        fdb,
        neigh,
        dir,
        state,
    }
}

impl Rig {
    fn req(&self, cmd: &str, args: Value) -> Result<Value, String> {
        let a = args.as_object().cloned().unwrap_or_default();
        dispatch(&self.live, cmd, &a).expect("a live command")
    }

    fn ok(&self, cmd: &str, args: Value) -> Value {
        self.req(cmd, args.clone())
            .unwrap_or_else(|e| panic!("{cmd} {args}: {e}"))
    }

    fn toml(&self) -> String {
        self.ok("config.show", json!({}))["toml"]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn saved(&self) -> Option<Config> {
        std::fs::metadata(&self.state).ok()?;
        Some(Config::load(&self.state).unwrap())
    }

    fn generation(&self) -> u64 {
        self.cell.load().generation
    }
}

fn mac(s: &str) -> MacAddr {
    s.parse().unwrap()
}

#[test]
fn every_change_is_published_applied_and_saved() {
    let r = rig("roundtrip");
    assert_eq!(r.saved(), None, "nothing saved before the first change");
    // vni.add: in the snapshot (next generation), the config, the state file.
    let o = r.ok(
        "vni.add",
        json!({"id": 5000, "flood": ["172.30.0.12"], "access": [{"port": "p1", "vlan": 200}],
               "ageing_secs": 60, "gateway_ip": "10.0.5.1",
               "arp": [{"ip": "10.0.5.9", "mac": "02:00:00:00:05:09"}]}),
    );
    assert_eq!(o["generation"], 2, "{o}");
    assert_eq!(o["changes"], json!(["vni 5000 added"]));
    assert!(o["in_effect_us"].as_u64().is_some(), "{o}");
    let snap = r.cell.load_full();
    let slot = snap.vni_slot(5000).expect("VNI 5000 published") as usize;
    assert_eq!(snap.vnis[slot].ageing_secs, 60);
    assert_eq!(snap.vnis[slot].flood, vec![1], "172.30.0.12 is VTEP slot 1");
    assert_eq!(
        snap.ports[1].vlan_to_vni.as_ref().unwrap()[200],
        slot as u16 + 1
    );
    assert_eq!(r.saved().unwrap(), r.live.config());
    assert!(r.toml().contains("id = 5000"), "{}", r.toml());
    let shown = r.ok("vni.show", json!({"id": 5000}));
    assert_eq!(shown[0]["gateway_ip"], "10.0.5.1", "{shown}");
    assert_eq!(shown[0]["learn_limit"], 65536, "the gateway default");

    // Flood list and access members.
    r.ok("vni.flood.add", json!({"id": 4096, "ip": "172.30.0.12"}));
    assert_eq!(r.cell.load().vnis[0].flood, vec![0, 1]);
    r.ok("vni.flood.del", json!({"id": 4096, "ip": "172.30.0.11"}));
    assert_eq!(r.cell.load().vnis[0].flood, vec![1]);
    r.ok(
        "vni.access.add",
        json!({"id": 4096, "port": "p1", "vlan": 300}),
    );
    assert_eq!(r.cell.load().ports[1].vlan_to_vni.as_ref().unwrap()[300], 1);
    let o = r.ok(
        "vni.set",
        json!({"id": 4096, "learn_limit": 10, "ageing_secs": 30}),
    );
    assert_eq!(
        o["changes"],
        json!([
            "vni 4096: learn_limit default -> 10",
            "vni 4096: ageing_secs default -> 30"
        ])
    );
    assert_eq!(r.cell.load().vnis[0].learn_limit, 10);
    r.ok("vni.set", json!({"id": 4096, "learn_limit": null}));
    assert_eq!(r.cell.load().vnis[0].learn_limit, 65536);

    // Static FDB entries: in the FDB as static, replaced in place, deleted.
    let m = mac("02:00:00:00:00:99");
    r.ok(
        "fdb.add",
        json!({"vni": 5000, "mac": "02:00:00:00:00:99", "vtep": "172.30.0.12"}),
    );
    let hit = r.fdb.lookup_hit(5000, m).unwrap();
    assert!(hit.is_static && hit.dest == FdbDest::Vtep(Ipv4Addr::new(172, 30, 0, 12)));
    let o = r.ok(
        "fdb.add",
        json!({"vni": 5000, "mac": "02:00:00:00:00:99", "port": "p1", "vlan": 200}),
    );
    assert_eq!(
        o["changes"],
        json!(["fdb vni 5000 02:00:00:00:00:99: vtep 172.30.0.12 -> port p1 vlan 200"])
    );
    assert_eq!(
        r.fdb.lookup(5000, m),
        Some(FdbDest::Access { port: 1, vlan: 200 })
    );
    assert_eq!(r.live.config().fdb.len(), 2);
    let o = r.ok("fdb.del", json!({"vni": 5000, "mac": "02:00:00:00:00:99"}));
    assert_eq!(o["removed"], "static");
    assert_eq!(r.fdb.lookup(5000, m), None);
    // A learned entry is forgotten without a configuration change.
    let gen = r.generation();
    assert_eq!(
        r.fdb.learn(
            5000,
            m,
            FdbDest::Vtep(Ipv4Addr::new(172, 30, 0, 12)),
            1,
            100
        ),
        LearnOutcome::Learned
    );
    let o = r.ok("fdb.del", json!({"vni": 5000, "mac": "02:00:00:00:00:99"}));
    assert_eq!(
        (o["removed"].as_str(), r.generation()),
        (Some("dynamic"), gen)
    );
    assert!(r
        .req("fdb.del", json!({"vni": 5000, "mac": "02:00:00:00:00:99"}))
        .is_err());

    // Neighbours: static set, replaced, deleted (invalidated).
    let ip = Ipv4Addr::new(172, 30, 0, 12);
    r.ok(
        "neigh.add",
        json!({"ip": "172.30.0.12", "mac": "02:00:00:00:12:12"}),
    );
    assert_eq!(r.neigh.lookup(ip), Some(mac("02:00:00:00:12:12")));
    r.ok(
        "neigh.add",
        json!({"ip": "172.30.0.12", "mac": "02:00:00:00:12:13"}),
    );
    assert_eq!(r.neigh.lookup(ip), Some(mac("02:00:00:00:12:13")));
    assert_eq!(r.live.config().neighbours.len(), 2);
    r.ok("neigh.del", json!({"ip": "172.30.0.12"}));
    assert_eq!(r.neigh.lookup(ip), None);

    // ARP suppression entries.
    r.ok(
        "arp.add",
        json!({"vni": 4096, "ip": "10.255.0.7", "mac": "02:00:00:00:00:07"}),
    );
    assert_eq!(
        r.cell.load().vnis[0].arp.get(&Ipv4Addr::new(10, 255, 0, 7)),
        Some(&mac("02:00:00:00:00:07"))
    );
    assert_eq!(
        r.ok("arp.show", json!({"vni": 4096}))
            .as_array()
            .unwrap()
            .len(),
        1
    );
    r.ok("arp.del", json!({"vni": 4096, "ip": "10.255.0.7"}));
    assert!(r.cell.load().vnis[0].arp.is_empty());

    // VTEPs.
    r.ok("vtep.add", json!({"ip": "172.30.0.13"}));
    assert!(r
        .cell
        .load()
        .vtep_slot(Ipv4Addr::new(172, 30, 0, 13))
        .is_some());
    let shown = r.ok("vtep.show", json!({}));
    assert_eq!(shown.as_array().unwrap().len(), 3);
    r.ok("vtep.del", json!({"ip": "172.30.0.13"}));
    assert!(r
        .cell
        .load()
        .vtep_slot(Ipv4Addr::new(172, 30, 0, 13))
        .is_none());

    // vni.del: the VNI and its static entries go.
    r.ok(
        "fdb.add",
        json!({"vni": 5000, "mac": "02:00:00:00:00:98", "vtep": "172.30.0.12"}),
    );
    let o = r.ok("vni.del", json!({"id": 5000}));
    assert!(r.cell.load().vni_slot(5000).is_none());
    assert_eq!(o["fdb_removed"], 1, "{o}");
    assert!(r.live.config().fdb.iter().all(|f| f.vni != 5000));
    // Everything was saved as it happened.
    assert_eq!(r.saved().unwrap(), r.live.config());
    assert!(std::fs::read_to_string(&r.state)
        .unwrap()
        .starts_with("# vxgw running configuration"));
}

#[test]
fn refused_requests_change_nothing() {
    let r = rig("refused");
    r.ok("vtep.add", json!({"ip": "172.30.0.13"})); // so that a state file exists
    let (toml, gen, saved) = (r.toml(), r.generation(), std::fs::read(&r.state).unwrap());
    let cases: &[(&str, Value, &str)] = &[
        ("vni.del", json!({"id": 4097}), "unknown VNI 4097"),
        ("vni.flood.add", json!({"id": 4097, "ip": "172.30.0.12"}), "unknown VNI 4097"),
        (
            "vni.flood.add",
            json!({"id": 4096, "ip": "172.30.0.99"}),
            "vni[0].flood[1]: 172.30.0.99 is not a configured [[vtep]]",
        ),
        (
            "fdb.add",
            json!({"vni": 4096, "mac": "zz", "vtep": "172.30.0.11"}),
            "invalid MAC address 'zz'",
        ),
        ("fdb.add", json!({"vni": 4097, "mac": "02:00:00:00:00:01", "vtep": "172.30.0.11"}), "unknown VNI 4097"),
        (
            "fdb.add",
            json!({"vni": 4096, "mac": "01:00:00:00:00:01", "vtep": "172.30.0.11"}),
            "is not a unicast MAC",
        ),
        (
            "fdb.add",
            json!({"vni": 4096, "mac": "02:00:00:00:00:01", "vtep": "172.30.0.11", "port": "p1"}),
            "give exactly one of `vtep` or `port`",
        ),
        ("vni.add", json!({"id": 4096}), "VNI 4096 already exists"),
        ("vni.add", json!({"id": 16777216}), "vni[1].id: 16777216 is not 1-16777215"),
        ("vni.add", json!({"id": 7, "bogus": 1}), "unknown field `bogus`"),
        (
            "vni.add",
            json!({"id": 7, "access": [{"port": "p1", "vlan": 100}]}),
            "already mapped",
        ),
        ("vni.add", json!({"id": 7, "access": [{"port": "p0"}]}), "is not a port with role \"access\""),
        ("vni.access.add", json!({"id": 4096, "port": "p1", "vlan": 100}), "already mapped to VNI 4096"),
        ("vni.access.add", json!({"id": 4096, "port": "p1", "vlan": 5000}), "5000 is not 0-4094"),
        ("vni.set", json!({"id": 4096, "ageing_secs": 0}), "ageing_secs: must be at least 1"),
        ("vni.set", json!({"id": 4096}), "nothing to set"),
        ("vtep.add", json!({"ip": "172.30.0.1"}), "is our own vtep_ip"),
        ("vtep.add", json!({"ip": "not-an-ip"}), "invalid IPv4 address syntax"),
        (
            "vtep.del",
            json!({"ip": "172.30.0.11"}),
            "VTEP 172.30.0.11 is still used by the flood list of VNI 4096, static FDB entry 02:42:0a:ff:00:0d in VNI 4096",
        ),
        ("vtep.del", json!({"ip": "172.30.0.99"}), "unknown VTEP 172.30.0.99"),
        ("neigh.del", json!({"ip": "172.30.0.99"}), "no neighbour 172.30.0.99"),
        ("arp.del", json!({"vni": 4096, "ip": "10.1.1.1"}), "no ARP entry"),
        ("fdb.flush", json!({"vni": 4097}), "unknown VNI 4097"),
        ("config.apply", json!({"toml": "[gateway]\nttl = \"x\"\n"}), "line 2"),
        (
            "config.apply",
            json!({"toml": CFG.replace("\"p1\"", "\"p2\"")}),
            "ports cannot change while running; restart with a new config",
        ),
        (
            "config.apply",
            json!({"toml": CFG.replace("fdb_capacity = 1024", "fdb_capacity = 2048")}),
            "gateway.fdb_capacity cannot change while running",
        ),
        ("config.apply", json!({}), "missing field `toml`"),
    ];
    for (cmd, args, want) in cases {
        let e = r
            .req(cmd, args.clone())
            .expect_err(&format!("{cmd} {args} must be refused"));
        assert!(e.contains(want), "{cmd} {args}: {e:?} lacks {want:?}");
        assert_eq!(r.toml(), toml, "{cmd} {args} changed the configuration");
        assert_eq!(r.generation(), gen, "{cmd} {args} published");
        assert_eq!(
            std::fs::read(&r.state).unwrap(),
            saved,
            "{cmd} {args} saved"
        );
    }
    assert!(r.fdb.lookup(4096, mac("02:00:00:00:00:01")).is_none());
    // An identical config.apply is accepted and changes nothing.
    let o = r.ok("config.apply", json!({"toml": toml}));
    assert_eq!((o["changes"].clone(), r.generation()), (json!([]), gen));
}

#[test]
fn a_change_that_cannot_be_saved_is_undone() {
    let dir = std::env::temp_dir().join(format!("vxgw-live-nosave-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // The state file's directory does not exist: every save fails.
    let r = rig_with_state(dir.clone(), dir.join("missing/running.toml"));
    let m = mac("02:00:00:00:00:42");
    let toml = r.toml();
    let e = r
        .req(
            "config.apply",
            json!({"toml": format!("{CFG}\n[[fdb]]\nvni = 4096\nmac = \"{m}\"\nvtep = \"172.30.0.12\"\n\n[[neighbour]]\nip = \"172.30.0.12\"\nmac = \"02:00:00:00:12:12\"\n")}),
        )
        .unwrap_err();
    assert!(
        e.contains("cannot save") && e.contains("nothing changed"),
        "{e}"
    );
    assert_eq!(r.toml(), toml);
    assert_eq!(r.generation(), 1);
    assert_eq!(
        r.fdb.lookup(4096, m),
        None,
        "the static entry added first was undone"
    );
    assert_eq!(r.neigh.lookup(Ipv4Addr::new(172, 30, 0, 12)), None);
    // Re-pointing an existing static entry is undone to its old destination.
    let old = mac("02:42:0a:ff:00:0d");
    let e = r
        .req(
            "fdb.add",
            json!({"vni": 4096, "mac": old.to_string(), "vtep": "172.30.0.12"}),
        )
        .unwrap_err();
    assert!(e.contains("cannot save"), "{e}");
    assert_eq!(
        r.fdb.lookup_hit(4096, old).map(|h| (h.dest, h.is_static)),
        Some((FdbDest::Vtep(Ipv4Addr::new(172, 30, 0, 11)), true))
    );
}

#[test]
fn removals_flush_what_depends_on_them() {
    let r = rig("flush");
    let (v11, v12) = (
        FdbDest::Vtep(Ipv4Addr::new(172, 30, 0, 11)),
        FdbDest::Vtep(Ipv4Addr::new(172, 30, 0, 12)),
    );
    let acc100 = FdbDest::Access { port: 1, vlan: 100 };
    r.ok(
        "vni.access.add",
        json!({"id": 4096, "port": "p1", "vlan": 300}),
    );
    let acc300 = FdbDest::Access { port: 1, vlan: 300 };
    let learn = |vni, n: u8, d| {
        assert_eq!(
            r.fdb
                .learn(vni, MacAddr([2, 0, 0, 0, vni as u8, n]), d, 1, 1000),
            LearnOutcome::Learned
        )
    };
    for n in 0..4 {
        learn(4096, n, v12);
        learn(4096, 10 + n, acc100);
        learn(4096, 20 + n, acc300);
    }
    // An access member leaves its VNI: its learned entries go, the others stay.
    let o = r.ok(
        "vni.access.del",
        json!({"id": 4096, "port": "p1", "vlan": 300}),
    );
    assert_eq!(o["fdb_removed"], 4, "{o}");
    assert_eq!(r.fdb.entries(&FdbFilter::all().vni(4096), 1).len(), 1 + 8);
    // A VTEP goes: its entries go (it must leave the flood lists first).
    r.ok("vni.flood.add", json!({"id": 4096, "ip": "172.30.0.12"}));
    assert!(r.req("vtep.del", json!({"ip": "172.30.0.12"})).is_err());
    r.ok("vni.flood.del", json!({"id": 4096, "ip": "172.30.0.12"}));
    let o = r.ok("vtep.del", json!({"ip": "172.30.0.12"}));
    assert_eq!(o["fdb_removed"], 4, "{o}");
    // fdb.flush: learned only by default, statics too (and out of the config) on request.
    r.ok(
        "vni.add",
        json!({"id": 5000, "access": [{"port": "p1", "vlan": 5}]}),
    );
    for n in 0..3 {
        learn(5000, n, FdbDest::Access { port: 1, vlan: 5 });
    }
    let o = r.ok("fdb.flush", json!({"vni": 4096}));
    assert_eq!(o["flushed"], 4, "{o}");
    assert_eq!(r.fdb.len(), 1 + 3, "the static entry and VNI 5000's stay");
    let o = r.ok("fdb.flush", json!({"dynamic_only": false}));
    assert_eq!(
        (o["flushed"].clone(), o["fdb_removed"].clone()),
        (json!(3), json!(1)),
        "{o}"
    );
    assert!(r.fdb.is_empty() && r.live.config().fdb.is_empty());
    // vni.del: everything of the VNI goes.
    learn(5000, 7, v11);
    let o = r.ok("vni.del", json!({"id": 5000}));
    assert_eq!(o["fdb_removed"], 1, "{o}");
    assert!(r.fdb.is_empty());
}

#[test]
fn vnis_created_and_deleted_never_run_the_fdb_vni_table_out() {
    // The rig's FDB holds 64 VNIs at a time; 200 come and go, each learning a MAC.
    let r = rig("vnichurn");
    let base = r.fdb.vnis_in_use();
    assert_eq!(base, 1, "the configured VNI is registered at start-up");
    for i in 0..200u32 {
        let vni = 6000 + i;
        r.ok(
            "vni.add",
            json!({"id": vni, "access": [{"port": "p1", "vlan": 7}]}),
        );
        assert_eq!(r.fdb.vnis_in_use(), base + 1);
        assert_eq!(
            r.fdb.learn(
                vni,
                MacAddr([2, 0, 0, 0, 0, 9]),
                FdbDest::Access { port: 1, vlan: 7 },
                1,
                10
            ),
            LearnOutcome::Learned,
            "VNI {vni}"
        );
        let o = r.ok("vni.del", json!({"id": vni}));
        assert_eq!(o["fdb_removed"], 1, "{o}");
        assert_eq!(r.fdb.vnis_in_use(), base);
    }
}

#[test]
fn removals_wait_for_the_workers_to_drop_the_old_snapshot() {
    let r = rig("grace");
    // A "worker" holding the current snapshot for 30 ms, as if in the middle of a burst.
    let held = r.cell.load_full();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        drop(held);
    });
    let o = r.ok("vni.add", json!({"id": 5000}));
    t.join().unwrap();
    let us = o["in_effect_us"].as_u64().expect("in effect");
    assert!(us >= 20_000, "the commit waited for the reader: {o}");
    // Nobody holds a snapshot: in effect at once.
    let o = r.ok("vni.del", json!({"id": 5000}));
    assert!(o["in_effect_us"].as_u64().unwrap() < 20_000, "{o}");
}

#[test]
fn config_apply_reports_every_difference() {
    let r = rig("apply");
    let new =
        CFG.replace(
            "vtep_ip = \"172.30.0.1\"",
            "vtep_ip = \"172.30.0.1\"\nttl = 32",
        )
        .replace("flood = [\"172.30.0.11\"]", "flood = [\"172.30.0.12\"]")
        .replace(
            "[[neighbour]]\nip = \"172.30.0.11\"\nmac = \"02:00:00:00:11:11\"\n",
            "",
        ) + "\n[[vni]]\nid = 6000\n\n[[vtep]]\nip = \"172.30.0.14\"\n";
    let o = r.ok("config.apply", json!({"toml": new}));
    assert_eq!(
        o["changes"],
        json!([
            "gateway.ttl: 64 -> 32",
            "vtep 172.30.0.14 added",
            "vni 4096: flood +172.30.0.12 -172.30.0.11",
            "vni 6000 added",
            "neighbour 172.30.0.11 02:00:00:00:11:11 deleted",
        ]),
        "{o}"
    );
    assert_eq!(r.live.config(), Config::parse(&new).unwrap());
    assert_eq!(r.neigh.lookup(Ipv4Addr::new(172, 30, 0, 11)), None);
    assert_eq!(
        r.cell.load().vteps[0].header[22],
        32,
        "outer TTL in the VTEP template"
    );
}

/// Issue 24: arbitrary JSON for every command's arguments. Whatever the request,
/// the running configuration (and the published generation and the state file)
/// changes only to a configuration that validates; every refusal changes nothing and
/// names what it refuses (an argument key, a located configuration path such as
/// `fdb[1].vlan`, or the value it could not find).
mod arbitrary_requests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const KEYS: &[&str] = &[
        "id",
        "vni",
        "mac",
        "ip",
        "port",
        "vlan",
        "flood",
        "access",
        "learn_limit",
        "ageing_secs",
        "gateway_ip",
        "arp",
        "vtep",
        "dynamic_only",
        "toml",
        "name",
        "protocol",
        "published_port",
        "published_ip",
        "ingress_ip",
        "backends",
        "service",
        "weight",
        "client",
        "backend",
        "state",
        "limit",
        "all",
        "mode",
        "bogus",
    ];

    fn leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            prop::sample::select(vec![
                0i64,
                1,
                7,
                100,
                200,
                4094,
                4095,
                4096,
                5000,
                65535,
                65536,
                16_777_215,
                16_777_216,
                -1,
                1 << 40,
            ])
            .prop_map(Value::from),
            prop::sample::select(vec![
                "172.30.0.11",
                "172.30.0.12",
                "172.30.0.13",
                "224.0.0.1",
                "0.0.0.0",
                "255.255.255.255",
                "127.0.0.1",
                "10.255.0.9",
                "02:42:0a:ff:00:0d",
                "02:00:00:00:11:11",
                "01:00:5e:00:00:01",
                "ff:ff:ff:ff:ff:ff",
                "00:00:00:00:00:00",
                "p0",
                "p1",
                "nope",
                "",
                "web",
                "tcp",
                "udp",
                "snat",
                "established",
                "zz",
            ])
            .prop_map(Value::from),
            "[a-z0-9:.]{0,6}".prop_map(Value::from),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        leaf().prop_recursive(2, 12, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                prop::collection::btree_map(prop::sample::select(KEYS), inner, 0..3).prop_map(
                    |m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
                ),
            ]
        })
    }

    fn args() -> impl Strategy<Value = serde_json::Map<String, Value>> {
        prop::collection::btree_map(prop::sample::select(KEYS), value(), 0..5)
            .prop_map(|m| m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    /// Scalars of `v`, as an error message would quote them.
    fn scalars(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) if !s.is_empty() => out.push(s.clone()),
            Value::Number(n) => out.push(n.to_string()),
            Value::Array(a) => a.iter().for_each(|x| scalars(x, out)),
            Value::Object(m) => m.values().for_each(|x| scalars(x, out)),
            _ => {}
        }
    }

    /// A located configuration path: `name[3]` or `gateway.key`.
    fn has_path(e: &str) -> bool {
        e.contains("gateway.")
            || e.match_indices('[').any(|(i, _)| {
                e[i + 1..]
                    .split(']')
                    .next()
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                    && e[..i].ends_with(|c: char| c.is_ascii_alphabetic())
            })
    }

    static CASE: AtomicUsize = AtomicUsize::new(0);

    /// A valid request of each command against the rig's configuration: mutated
    /// one key at a time, they probe the validator near the valid ones.
    fn templates() -> Vec<(&'static str, Value)> {
        vec![
            ("config.show", json!({})),
            (
                "config.apply",
                json!({"toml": CFG.replace("vlan = 100", "vlan = 101")}),
            ),
            ("vni.show", json!({"id": 4096})),
            (
                "vni.add",
                json!({"id": 5000, "flood": ["172.30.0.12"],
                "access": [{"port": "p1", "vlan": 200}], "gateway_ip": "10.0.5.1",
                "arp": [{"ip": "10.0.5.9", "mac": "02:00:00:00:05:09"}]}),
            ),
            ("vni.del", json!({"id": 4096})),
            (
                "vni.set",
                json!({"id": 4096, "learn_limit": 10, "ageing_secs": 30}),
            ),
            ("vni.flood.add", json!({"id": 4096, "ip": "172.30.0.12"})),
            ("vni.flood.del", json!({"id": 4096, "ip": "172.30.0.11"})),
            (
                "vni.access.add",
                json!({"id": 4096, "port": "p1", "vlan": 300}),
            ),
            (
                "vni.access.del",
                json!({"id": 4096, "port": "p1", "vlan": 100}),
            ),
            ("vtep.show", json!({})),
            ("vtep.add", json!({"ip": "172.30.0.13"})),
            ("vtep.del", json!({"ip": "172.30.0.12"})),
            (
                "fdb.add",
                json!({"vni": 4096, "mac": "02:00:00:00:00:09", "port": "p1", "vlan": 100}),
            ),
            (
                "fdb.add",
                json!({"vni": 4096, "mac": "02:00:00:00:00:0a", "vtep": "172.30.0.12"}),
            ),
            ("fdb.del", json!({"vni": 4096, "mac": "02:42:0a:ff:00:0d"})),
            ("fdb.flush", json!({"vni": 4096, "dynamic_only": false})),
            (
                "neigh.add",
                json!({"ip": "172.30.0.12", "mac": "02:00:00:00:11:12"}),
            ),
            ("neigh.del", json!({"ip": "172.30.0.11"})),
            ("arp.show", json!({"vni": 4096})),
            (
                "arp.add",
                json!({"vni": 4096, "ip": "10.0.0.5", "mac": "02:00:00:00:00:05"}),
            ),
            ("service.show", json!({})),
            ("conntrack.show", json!({"limit": 5})),
            ("conntrack.count", json!({})),
            ("conntrack.flush", json!({"all": true})),
        ]
    }

    fn answer(r: &Rig, cmd: &str, a: &serde_json::Map<String, Value>) -> Result<Value, String> {
        super::super::commands::dispatch(&r.live, cmd, a)
            .or_else(|| super::super::service_cmds::dispatch(&r.live, 0, cmd, a))
            .expect("every command is answered")
    }

    #[test]
    fn the_templates_are_valid() {
        for (i, (cmd, a)) in templates().into_iter().enumerate() {
            let r = rig(&format!("tmpl{i}"));
            let res = answer(&r, cmd, a.as_object().unwrap());
            assert!(res.is_ok(), "{cmd} {a}: {res:?}");
        }
    }

    /// A template with one key set to an arbitrary value (an existing one or any
    /// other), or removed.
    fn mutated() -> impl Strategy<Value = (&'static str, serde_json::Map<String, Value>)> {
        let n = templates().len();
        (
            0..n,
            prop::sample::select(KEYS),
            value(),
            0u8..3,
            any::<prop::sample::Index>(),
        )
            .prop_map(|(i, k, v, how, which)| {
                let (cmd, t) = templates().swap_remove(i);
                let mut m = t.as_object().cloned().unwrap_or_default();
                let keys: Vec<String> = m.keys().cloned().collect();
                match (how, keys.is_empty()) {
                    (0, _) | (_, true) => {
                        m.insert(k.to_string(), v);
                    }
                    (1, false) => {
                        m.insert(which.get(&keys).clone(), v);
                    }
                    _ => {
                        m.remove(which.get(&keys));
                    }
                }
                (cmd, m)
            })
    }

    fn request() -> impl Strategy<Value = (&'static str, serde_json::Map<String, Value>)> {
        // Those the socket answers itself (reads of the tables, the trace) aside.
        let cmds: Vec<&'static str> = vxgw_api::Request::COMMANDS
            .iter()
            .copied()
            .filter(|c| {
                ![
                    "status",
                    "stats",
                    "fdb.show",
                    "neigh.show",
                    "trace.packet",
                    "trace.start",
                    "trace.show",
                    "trace.stop",
                ]
                .contains(c)
            })
            .collect();
        prop_oneof![(prop::sample::select(cmds), args()), mutated()]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]
        #[test]
        fn change_only_to_what_validates((cmd, a) in request()) {
            let r = rig(&format!("prop{}", CASE.fetch_add(1, Ordering::Relaxed)));
            let (before, gen) = (r.live.config(), r.generation());
            let res = answer(&r, cmd, &a);
            let after = r.live.config();
            match res {
                Ok(_) => {
                    prop_assert!(after.validate().is_ok(), "{cmd} {a:?} made an invalid config");
                    if after != before {
                        prop_assert!(r.generation() > gen);
                        prop_assert_eq!(r.saved(), Some(after));
                    } else {
                        prop_assert_eq!(r.generation(), gen);
                    }
                }
                Err(e) => {
                    prop_assert_eq!(&after, &before, "{} {:?} refused ({}) but changed", cmd, a, e);
                    prop_assert_eq!(r.generation(), gen);
                    prop_assert_eq!(r.saved(), None, "{} refused but saved", cmd);
                    let low = e.to_lowercase();
                    let mut vals = Vec::new();
                    scalars(&Value::Object(a.clone()), &mut vals);
                    // A key given, or one the command wants (as a whole word).
                    let words: Vec<&str> = low
                        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .collect();
                    let named = a.keys().any(|k| low.contains(k.as_str()))
                        || KEYS.iter().any(|k| *k != "bogus" && words.contains(k))
                        || low.contains("missing field `")
                        || has_path(&e)
                        || vals.iter().any(|v| e.contains(v.as_str()));
                    prop_assert!(named, "{} {:?}: the refusal names nothing: {}", cmd, a, e);
                }
            }
        }
    }
}
