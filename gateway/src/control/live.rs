//! Live configuration changes: the running configuration, owned by the control side,
//! and the one way it changes.
//!
//! A change is a new whole [`Config`]. [`Writer::commit`] takes it through, in order:
//!
//! 1. checks: ports and the FDB capacity are fixed while running; `validate()` of the
//!    whole result; [`Snapshot::build`] with the same port resolver and the next
//!    generation. Nothing has changed yet; an error here is the answer.
//! 2. additions to the shared tables that can fail (an FDB count slot for each new
//!    VNI, static FDB entries added or re-pointed, static neighbours set), each
//!    recorded so it can be undone. Harmless before the snapshot: the pipeline only
//!    consults entries of VNIs and VTEPs the current snapshot knows (an entry towards
//!    a VTEP it does not know yet floods).
//! 3. persistence of the new configuration (write, fsync, rename, fsync the directory).
//!    If it fails, step 2 is undone and nothing changed.
//! 4. publication of the snapshot ([`SnapshotCell::publish`]), then a grace period:
//!    wait until no reader holds the old snapshot any more (workers load it once per
//!    poll round, so this is the time until the change is in effect on every worker).
//! 5. removals, which cannot fail: static FDB entries and static neighbours no longer
//!    configured; every entry of a deleted VNI, then its FDB count slot (reused by
//!    the next VNI created, so VNIs created and deleted over the gateway's life never
//!    run the FDB's VNI table out); every entry towards a deleted VTEP; learned
//!    entries on an access member that left its VNI. After the grace period no
//!    worker can re-learn into what was removed.
//!
//! One writer at a time: the running configuration sits behind a mutex held for the
//! whole commit, so requests are serialized. Workers never touch it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::config::{Config, VniConfig};
use super::persist;
use crate::tables::conntrack::{Conntrack, CtFilter};
use crate::tables::fdb::{DestFilter, Fdb, FdbDest, FdbFilter};
use crate::tables::neighbours::Neighbours;
use crate::tables::snapshot::{ResolvedPort, Snapshot, SnapshotCell};
use crate::wire::MacAddr;
use vxgw_api::ApiError;

/// The services (`(id, None)`) and backends (`(service id, Some(slot))`) of `old`
/// that `new` no longer has: their connections are removed once `new` is in effect
/// (a drained backend, weight 0, keeps its connections; a removed one loses them and
/// their next packets are re-balanced).
fn gone_backends(old: &Snapshot, new: &Snapshot) -> Vec<(u32, Option<u32>)> {
    let mut gone = Vec::new();
    for s in &old.services {
        match new.services.iter().find(|n| n.id == s.id) {
            None => gone.push((s.id, None)),
            Some(n) => {
                for b in &s.backends {
                    if !n.backends.iter().any(|nb| nb.slot == b.slot) {
                        gone.push((s.id, Some(b.slot)));
                    }
                }
            }
        }
    }
    gone
}

/// Longest wait for the workers to drop the previous snapshot before removals go ahead.
pub const GRACE_TIMEOUT: Duration = Duration::from_millis(200);

/// The message for any change of `[[port]]`.
pub const PORTS_FIXED: &str =
    "ports cannot change while running; restart with a new config (and without the saved state file, which would be restored instead)";

/// The running configuration and the tables it drives.
pub struct Live {
    running: Mutex<Config>,
    ports: HashMap<String, ResolvedPort>,
    cell: Arc<SnapshotCell>,
    fdb: Arc<Fdb>,
    neigh: Arc<Neighbours>,
    state_file: Option<PathBuf>,
    conntrack: std::sync::OnceLock<Arc<Conntrack>>,
}

/// What an accepted change did.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Generation of the published snapshot (unchanged when nothing changed).
    pub generation: u64,
    /// One line per difference, e.g. `vni 5000 added`, `vni 4096: flood +172.30.0.12`.
    pub changes: Vec<String>,
    /// Microseconds from publication until no reader held the previous snapshot (the
    /// change in effect on every worker); None when nothing was published or the
    /// grace period timed out.
    pub in_effect_us: Option<u64>,
    /// FDB entries removed as a consequence (deleted VNI or VTEP, access member gone,
    /// static entries no longer configured).
    pub fdb_removed: usize,
    /// Connections removed with a removed service or backend.
    pub conns_removed: usize,
    /// The state file written, if persistence is on and something changed.
    pub saved: Option<PathBuf>,
}

impl Outcome {
    /// The answer to the request that made it.
    pub fn to_reply(&self) -> vxgw_api::ChangeOutcome {
        vxgw_api::ChangeOutcome {
            generation: self.generation,
            changes: self.changes.clone(),
            in_effect_us: self.in_effect_us,
            fdb_removed: self.fdb_removed,
            connections_removed: self.conns_removed,
            saved: self.saved.as_ref().map(|p| p.display().to_string()),
            removed: None,
            flushed: None,
        }
    }
}

/// Exclusive access to the running configuration for one request.
pub struct Writer<'a> {
    live: &'a Live,
    cur: MutexGuard<'a, Config>,
}

enum Undo {
    /// Release the FDB count slot registered for this new VNI.
    Vni(u32),
    /// Restore this static FDB entry (None: remove the entry).
    Fdb(u32, MacAddr, Option<FdbDest>),
    /// Restore this static neighbour (None: invalidate).
    Neigh(Ipv4Addr, Option<MacAddr>),
}

impl Live {
    /// Wraps the configuration the gateway started with (its snapshot already
    /// published in `cell`, its static entries already in `fdb` and `neigh`).
    pub fn new(
        cfg: Config,
        ports: HashMap<String, ResolvedPort>,
        cell: Arc<SnapshotCell>,
        fdb: Arc<Fdb>,
        neigh: Arc<Neighbours>,
        state_file: Option<PathBuf>,
    ) -> Live {
        Live {
            running: Mutex::new(cfg),
            ports,
            cell,
            fdb,
            neigh,
            state_file,
            conntrack: std::sync::OnceLock::new(),
        }
    }

    /// Gives the live side the connection table, so that removing a service or a
    /// backend also removes its connections.
    pub fn set_conntrack(&self, ct: Arc<Conntrack>) {
        let _ = self.conntrack.set(ct);
    }

    /// The connection table, when the routing mesh runs.
    pub fn conntrack(&self) -> Option<&Arc<Conntrack>> {
        self.conntrack.get()
    }

    /// Takes the writer lock (waits for a change in progress).
    pub fn writer(&self) -> Writer<'_> {
        Writer {
            live: self,
            cur: self.running.lock().unwrap_or_else(|p| p.into_inner()),
        }
    }

    /// A copy of the running configuration.
    pub fn config(&self) -> Config {
        self.writer().cur.clone()
    }

    /// The state file, when persistence is on.
    pub fn state_file(&self) -> Option<&Path> {
        self.state_file.as_deref()
    }

    /// The FDB.
    pub fn fdb(&self) -> &Fdb {
        &self.fdb
    }

    /// The neighbour table.
    pub fn neigh(&self) -> &Neighbours {
        &self.neigh
    }

    /// The published snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.cell.load_full()
    }

    /// A configured port's DPDK id.
    pub fn port_id(&self, name: &str) -> Option<u16> {
        self.ports.get(name).map(|r| r.id)
    }

    /// Where a static entry points, with port names resolved.
    fn dest(&self, f: &super::config::StaticFdbConfig) -> Option<FdbDest> {
        match (&f.vtep, &f.port) {
            (Some(ip), _) => Some(FdbDest::Vtep(*ip)),
            (None, Some(p)) => Some(FdbDest::Access {
                port: self.port_id(p)?,
                vlan: f.vlan,
            }),
            (None, None) => None,
        }
    }

    fn statics(&self, cfg: &Config) -> BTreeMap<(u32, u64), (MacAddr, FdbDest)> {
        cfg.fdb
            .iter()
            .filter_map(|f| Some(((f.vni, f.mac.to_u64()), (f.mac, self.dest(f)?))))
            .collect()
    }

    /// Registers the configured VNIs in the FDB and puts the static FDB entries and
    /// neighbours into the tables (start-up, before the workers run).
    pub fn install_statics(&self) -> Result<(), String> {
        let cfg = self.config();
        for v in &cfg.vnis {
            self.fdb
                .register_vni(v.id)
                .map_err(|e| format!("VNI {}: {e}", v.id))?;
        }
        for ((vni, _), (mac, dest)) in self.statics(&cfg) {
            self.fdb
                .add_static(vni, mac, dest)
                .map_err(|e| format!("static FDB entry {mac} in VNI {vni}: {e}"))?;
        }
        for n in &cfg.neighbours {
            self.neigh
                .set_static(n.ip, n.mac)
                .map_err(|_| format!("static neighbour {}: neighbour table full", n.ip))?;
        }
        Ok(())
    }
}

/// Waits until `old` has no holder but us; returns how long that took.
fn wait_for_readers(old: &Arc<Snapshot>, timeout: Duration) -> Option<Duration> {
    let t0 = Instant::now();
    let mut spins = 0u32;
    loop {
        if Arc::strong_count(old) == 1 {
            return Some(t0.elapsed());
        }
        if t0.elapsed() > timeout {
            return None;
        }
        spins += 1;
        if spins < 100 {
            std::thread::yield_now();
        } else {
            std::thread::sleep(Duration::from_micros(20));
        }
    }
}

impl Writer<'_> {
    /// The running configuration.
    pub fn config(&self) -> &Config {
        &self.cur
    }

    /// The tables and ports.
    pub fn live(&self) -> &Live {
        self.live
    }

    /// Makes `new` the running configuration, atomically (see the module comment):
    /// either everything is in effect and saved, or nothing changed and the error says
    /// why.
    pub fn commit(&mut self, new: Config) -> Result<Outcome, ApiError> {
        let live = self.live;
        let gen = live.cell.load().generation;
        if new == *self.cur {
            return Ok(Outcome {
                generation: gen,
                ..Outcome::default()
            });
        }
        if new.ports != self.cur.ports {
            return Err(ApiError::Conflict(PORTS_FIXED.into()));
        }
        if new.gateway.fdb_capacity != self.cur.gateway.fdb_capacity {
            return Err(ApiError::Conflict(format!(
                "gateway.fdb_capacity cannot change while running (the FDB is preallocated at start: {}); restart with a new config",
                self.cur.gateway.fdb_capacity
            )));
        }
        new.validate().map_err(ApiError::InvalidConfig)?;
        if new.vnis.len() > live.fdb.max_vnis() {
            return Err(ApiError::Failed(format!(
                "{} VNIs: the FDB holds at most {}",
                new.vnis.len(),
                live.fdb.max_vnis()
            )));
        }
        let prev = live.cell.load_full();
        let snap =
            Snapshot::build_after(&new, &|n| live.ports.get(n).copied(), gen + 1, Some(&prev))
                .map_err(|e| ApiError::InvalidConfig(vec![e]))?;
        drop(prev);
        let changes = describe(&self.cur, &new);

        // Additions (undoable).
        let (old_fdb, new_fdb) = (live.statics(&self.cur), live.statics(&new));
        let old_neigh: HashMap<Ipv4Addr, MacAddr> =
            self.cur.neighbours.iter().map(|n| (n.ip, n.mac)).collect();
        let new_neigh: HashMap<Ipv4Addr, MacAddr> =
            new.neighbours.iter().map(|n| (n.ip, n.mac)).collect();
        let mut undo = Vec::new();
        let mut failed = None;
        // New VNIs get their FDB count slot before any worker can learn into them.
        let cur_vnis: BTreeSet<u32> = self.cur.vnis.iter().map(|v| v.id).collect();
        for v in new.vnis.iter().filter(|v| !cur_vnis.contains(&v.id)) {
            match live.fdb.register_vni(v.id) {
                Ok(()) => undo.push(Undo::Vni(v.id)),
                Err(e) => {
                    failed = Some(format!("VNI {}: {e}", v.id));
                    break;
                }
            }
        }
        if failed.is_none() {
            for (&(vni, k), &(mac, dest)) in &new_fdb {
                let before = old_fdb.get(&(vni, k)).map(|&(_, d)| d);
                if before == Some(dest) {
                    continue;
                }
                match live.fdb.add_static(vni, mac, dest) {
                    Ok(()) => undo.push(Undo::Fdb(vni, mac, before)),
                    Err(e) => {
                        failed = Some(format!("static FDB entry {mac} in VNI {vni}: {e}"));
                        break;
                    }
                }
            }
        }
        if failed.is_none() {
            for (&ip, &mac) in &new_neigh {
                let before = old_neigh.get(&ip).copied();
                if before == Some(mac) {
                    continue;
                }
                match live.neigh.set_static(ip, mac) {
                    Ok(()) => undo.push(Undo::Neigh(ip, before)),
                    Err(_) => {
                        failed = Some(format!("static neighbour {ip}: neighbour table full"));
                        break;
                    }
                }
            }
        }
        // Persistence.
        let mut saved = None;
        if failed.is_none() {
            if let Some(path) = &live.state_file {
                match persist::save(path, &new) {
                    Ok(()) => saved = Some(path.clone()),
                    Err(e) => {
                        if e.renamed {
                            // The new text may be in place: put the old one back.
                            let _ = persist::save(path, &self.cur);
                        }
                        failed = Some(format!(
                            "cannot save the running configuration: {}",
                            e.message
                        ));
                    }
                }
            }
        }
        if let Some(e) = failed {
            self.undo(undo);
            return Err(ApiError::Failed(format!("{e}; nothing changed")));
        }

        // Publication, then the grace period.
        let old_snap = live.cell.load_full();
        let gone = gone_backends(&old_snap, &snap);
        let t_pub = Instant::now();
        live.cell.publish(snap);
        let in_effect = wait_for_readers(&old_snap, GRACE_TIMEOUT);
        if in_effect.is_none() {
            eprintln!(
                "vxgw: generation {} published, but the previous snapshot was still held after {:?}",
                gen + 1,
                t_pub.elapsed()
            );
        }
        drop(old_snap);

        // Removals.
        let mut removed = 0;
        for (&(vni, k), &(mac, _)) in &old_fdb {
            if !new_fdb.contains_key(&(vni, k)) && live.fdb.remove(vni, mac) {
                removed += 1;
            }
        }
        for ip in old_neigh.keys() {
            if !new_neigh.contains_key(ip) {
                live.neigh.invalidate(*ip);
            }
        }
        let new_vnis: HashMap<u32, &VniConfig> = new.vnis.iter().map(|v| (v.id, v)).collect();
        for v in &self.cur.vnis {
            match new_vnis.get(&v.id) {
                None => {
                    removed += live.fdb.flush(&FdbFilter::all().vni(v.id));
                    // No worker holds a snapshot with this VNI any more: its count
                    // slot can go to the next VNI created.
                    live.fdb.release_vni(v.id);
                }
                Some(nv) => {
                    for a in v.access.iter().filter(|a| !nv.access.contains(a)) {
                        if let Some(port) = live.port_id(&a.port) {
                            let dest = FdbDest::Access { port, vlan: a.vlan };
                            removed += live.fdb.flush(
                                &FdbFilter::all()
                                    .vni(v.id)
                                    .dest(DestFilter::Exact(dest))
                                    .dynamic_only(),
                            );
                        }
                    }
                }
            }
        }
        for t in &self.cur.vteps {
            if !new.vteps.iter().any(|n| n.ip == t.ip) {
                removed += live
                    .fdb
                    .flush(&FdbFilter::all().dest(DestFilter::Exact(FdbDest::Vtep(t.ip))));
            }
        }
        let mut conns_removed = 0;
        if let Some(ct) = live.conntrack() {
            for (service, slot) in gone {
                let f = match slot {
                    None => CtFilter::all().service(service),
                    Some(b) => CtFilter::all().service(service).backend_id(b),
                };
                conns_removed += ct.flush(&f);
            }
        }
        *self.cur = new;
        Ok(Outcome {
            conns_removed,
            generation: gen + 1,
            changes,
            in_effect_us: in_effect.map(|d| d.as_micros() as u64),
            fdb_removed: removed,
            saved,
        })
    }

    fn undo(&self, undo: Vec<Undo>) {
        for u in undo.into_iter().rev() {
            match u {
                Undo::Fdb(vni, mac, Some(d)) => {
                    let _ = self.live.fdb.add_static(vni, mac, d);
                }
                Undo::Fdb(vni, mac, None) => {
                    self.live.fdb.remove(vni, mac);
                }
                Undo::Neigh(ip, Some(mac)) => {
                    let _ = self.live.neigh.set_static(ip, mac);
                }
                Undo::Neigh(ip, None) => {
                    self.live.neigh.invalidate(ip);
                }
                Undo::Vni(vni) => {
                    self.live.fdb.release_vni(vni);
                }
            }
        }
    }
}

fn opt<T: std::fmt::Display>(v: &Option<T>, none: &str) -> String {
    v.as_ref()
        .map(|x| x.to_string())
        .unwrap_or_else(|| none.to_string())
}

/// One line per difference between two configurations (for answers and logs).
pub fn describe(old: &Config, new: &Config) -> Vec<String> {
    let mut out = Vec::new();
    // Gateway settings, key by key.
    let (og, ng) = (
        serde_json::to_value(&old.gateway).unwrap_or_default(),
        serde_json::to_value(&new.gateway).unwrap_or_default(),
    );
    if let (Some(o), Some(n)) = (og.as_object(), ng.as_object()) {
        for (k, nv) in n {
            let ov = o.get(k).cloned().unwrap_or(Value::Null);
            if &ov != nv {
                out.push(format!("gateway.{k}: {ov} -> {nv}"));
            }
        }
    }
    if old.ports != new.ports {
        out.push("ports changed".into());
    }
    for sv in &new.services {
        match old.services.iter().find(|o| o.name == sv.name) {
            None => out.push(format!("service {} added", sv.name)),
            Some(o) if o != sv => out.push(format!("service {} changed", sv.name)),
            Some(_) => {}
        }
    }
    for o in &old.services {
        if !new.services.iter().any(|sv| sv.name == o.name) {
            out.push(format!("service {} deleted", o.name));
        }
    }
    let (ov, nv): (BTreeSet<Ipv4Addr>, BTreeSet<Ipv4Addr>) = (
        old.vteps.iter().map(|v| v.ip).collect(),
        new.vteps.iter().map(|v| v.ip).collect(),
    );
    out.extend(nv.difference(&ov).map(|ip| format!("vtep {ip} added")));
    out.extend(ov.difference(&nv).map(|ip| format!("vtep {ip} deleted")));
    let old_vnis: BTreeMap<u32, &VniConfig> = old.vnis.iter().map(|v| (v.id, v)).collect();
    let new_vnis: BTreeMap<u32, &VniConfig> = new.vnis.iter().map(|v| (v.id, v)).collect();
    for (id, n) in &new_vnis {
        let Some(o) = old_vnis.get(id) else {
            out.push(format!("vni {id} added"));
            continue;
        };
        let set = |a: Vec<String>, b: Vec<String>, what: &str, out: &mut Vec<String>| {
            let (a, b): (BTreeSet<String>, BTreeSet<String>) =
                (a.into_iter().collect(), b.into_iter().collect());
            let mut d: Vec<String> = b.difference(&a).map(|x| format!("+{x}")).collect();
            d.extend(a.difference(&b).map(|x| format!("-{x}")));
            if !d.is_empty() {
                out.push(format!("vni {id}: {what} {}", d.join(" ")));
            }
        };
        set(
            o.flood.iter().map(|i| i.to_string()).collect(),
            n.flood.iter().map(|i| i.to_string()).collect(),
            "flood",
            &mut out,
        );
        let acc = |v: &VniConfig| {
            v.access
                .iter()
                .map(|a| format!("{}:{}", a.port, a.vlan))
                .collect()
        };
        set(acc(o), acc(n), "access", &mut out);
        let arp = |v: &VniConfig| {
            v.arp
                .iter()
                .map(|a| format!("{}={}", a.ip, a.mac))
                .collect()
        };
        set(arp(o), arp(n), "arp", &mut out);
        if o.learn_limit != n.learn_limit {
            out.push(format!(
                "vni {id}: learn_limit {} -> {}",
                opt(&o.learn_limit, "default"),
                opt(&n.learn_limit, "default")
            ));
        }
        if o.ageing_secs != n.ageing_secs {
            out.push(format!(
                "vni {id}: ageing_secs {} -> {}",
                opt(&o.ageing_secs, "default"),
                opt(&n.ageing_secs, "default")
            ));
        }
        if o.gateway_ip != n.gateway_ip {
            out.push(format!(
                "vni {id}: gateway_ip {} -> {}",
                opt(&o.gateway_ip, "none"),
                opt(&n.gateway_ip, "none")
            ));
        }
    }
    out.extend(
        old_vnis
            .keys()
            .filter(|id| !new_vnis.contains_key(id))
            .map(|id| format!("vni {id} deleted")),
    );
    let where_ = |f: &super::config::StaticFdbConfig| match (&f.vtep, &f.port) {
        (Some(ip), _) => format!("vtep {ip}"),
        (None, Some(p)) => format!("port {p} vlan {}", f.vlan),
        _ => "?".into(),
    };
    let of: BTreeMap<(u32, u64), _> = old
        .fdb
        .iter()
        .map(|f| ((f.vni, f.mac.to_u64()), f))
        .collect();
    let nf: BTreeMap<(u32, u64), _> = new
        .fdb
        .iter()
        .map(|f| ((f.vni, f.mac.to_u64()), f))
        .collect();
    for (k, n) in &nf {
        match of.get(k) {
            None => out.push(format!(
                "fdb vni {} {} -> {} added",
                n.vni,
                n.mac,
                where_(n)
            )),
            Some(o) if where_(o) != where_(n) => out.push(format!(
                "fdb vni {} {}: {} -> {}",
                n.vni,
                n.mac,
                where_(o),
                where_(n)
            )),
            _ => {}
        }
    }
    for (k, o) in &of {
        if !nf.contains_key(k) {
            out.push(format!("fdb vni {} {} deleted", o.vni, o.mac));
        }
    }
    let on: BTreeMap<Ipv4Addr, MacAddr> = old.neighbours.iter().map(|n| (n.ip, n.mac)).collect();
    let nn: BTreeMap<Ipv4Addr, MacAddr> = new.neighbours.iter().map(|n| (n.ip, n.mac)).collect();
    for (ip, mac) in &nn {
        match on.get(ip) {
            None => out.push(format!("neighbour {ip} {mac} added")),
            Some(m) if m != mac => out.push(format!("neighbour {ip}: {m} -> {mac}")),
            _ => {}
        }
    }
    for (ip, m) in &on {
        if !nn.contains_key(ip) {
            out.push(format!("neighbour {ip} {m} deleted"));
        }
    }
    out
}
