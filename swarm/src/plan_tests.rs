//! desired() and plan() over a model swarm: what a first sync installs, that a
//! second changes nothing, what a task's life (stopping, gone, new) and a node
//! leaving change, and that nothing outside the served VNIs is touched.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use vxgw_api::{Mode, Proto, Request};

use crate::desired::{desired, Options, Served, State};
use crate::model::{Network, Publish, Service, Swarm, Task, TaskPhase};
use crate::plan::plan;

const N1: Ipv4Addr = Ipv4Addr::new(172, 31, 0, 11);
const N2: Ipv4Addr = Ipv4Addr::new(172, 31, 0, 12);

fn task(name: &str, ip: u8, node: Ipv4Addr, phase: TaskPhase) -> Task {
    Task {
        name: name.into(),
        service_id: "svc-web".into(),
        phase,
        node_addr: Some(node),
        addresses: vec![("net-1".into(), Ipv4Addr::new(10, 0, 1, ip))],
    }
}

fn swarm(tasks: Vec<Task>, peers: Vec<Ipv4Addr>) -> Swarm {
    Swarm {
        networks: vec![Network {
            id: "net-1".into(),
            name: "apps".into(),
            vni: 4097,
            peers,
        }],
        services: vec![Service {
            id: "svc-web".into(),
            name: "web".into(),
            publish: vec![Publish {
                proto: Proto::Tcp,
                port: 80,
                target: 8080,
            }],
            networks: vec!["net-1".into()],
            network_label: None,
            mode_label: None,
        }],
        tasks,
    }
}

fn opts() -> Options {
    Options {
        served: vec![Served {
            network: "apps".into(),
            ingress_ip: Ipv4Addr::new(10, 0, 1, 250),
            gateway_ip: Some(Ipv4Addr::new(10, 0, 1, 254)),
        }],
        published_ip: Some(Ipv4Addr::new(192, 0, 2, 1)),
        mode: Mode::Snat,
    }
}

fn cmds(reqs: &[Request]) -> Vec<String> {
    reqs.iter()
        .map(|r| {
            let a = r.args();
            let key = ["ip", "mac", "name", "id"]
                .iter()
                .find_map(|k| a.get(k).map(|v| v.to_string()))
                .unwrap_or_default();
            format!("{} {}", r.cmd(), key.trim_matches('"'))
        })
        .collect()
}

#[test]
fn a_first_sync_installs_the_network_its_tasks_and_the_service() {
    let s = swarm(
        vec![
            task("web.1.a", 3, N1, TaskPhase::Running),
            task("web.2.b", 4, N2, TaskPhase::Running),
            task("web.3.c", 5, N1, TaskPhase::Stopping),
            task("web.4.d", 6, N2, TaskPhase::Gone),
        ],
        vec![N1, N2],
    );
    let (want, warnings) = desired(&s, &opts());
    assert!(warnings.is_empty(), "{warnings:?}");
    let v = &want.vnis[&4097];
    assert_eq!(v.flood, BTreeSet::from([N1, N2]));
    assert_eq!(v.fdb.len(), 3, "running and stopping tasks are reachable");
    assert_eq!(
        v.arp[&Ipv4Addr::new(10, 0, 1, 5)].to_string(),
        "02:42:0a:00:01:05"
    );
    let web = &want.services["web-tcp-80"];
    assert_eq!((web.port, web.target, web.vni), (80, 8080, 4097));
    assert_eq!(
        web.backends
            .iter()
            .map(|(ip, w)| (ip.octets()[3], *w))
            .collect::<Vec<_>>(),
        vec![(3, 1), (4, 1), (5, 0)],
        "the stopping task is drained, the gone one absent"
    );
    let reqs = plan(&State::default(), &want, &BTreeSet::new());
    assert_eq!(
        cmds(&reqs),
        [
            "vtep.add 172.31.0.11",
            "vtep.add 172.31.0.12",
            "vni.add 4097",
            "fdb.add 02:42:0a:00:01:03",
            "fdb.add 02:42:0a:00:01:04",
            "fdb.add 02:42:0a:00:01:05",
            "service.add web-tcp-80",
        ]
    );
    // Once vxgw holds it, a second look changes nothing.
    assert!(plan(&want, &want, &BTreeSet::new()).is_empty());
}

#[test]
fn tasks_come_and_go_with_adds_before_removals() {
    let before = swarm(
        vec![
            task("web.1.a", 3, N1, TaskPhase::Running),
            task("web.2.b", 4, N2, TaskPhase::Running),
        ],
        vec![N1, N2],
    );
    let (have, _) = desired(&before, &opts());
    // web.2 is being stopped, then gone; web.3 starts on N2.
    let stopping = swarm(
        vec![
            task("web.1.a", 3, N1, TaskPhase::Running),
            task("web.2.b", 4, N2, TaskPhase::Stopping),
            task("web.3.c", 7, N2, TaskPhase::Running),
        ],
        vec![N1, N2],
    );
    let (want, _) = desired(&stopping, &opts());
    assert_eq!(
        cmds(&plan(&have, &want, &BTreeSet::new())),
        [
            "arp.add 10.0.1.7",
            "fdb.add 02:42:0a:00:01:07",
            "backend.set 10.0.1.4",
            "backend.add 10.0.1.7",
        ]
    );
    let gone = swarm(
        vec![
            task("web.1.a", 3, N1, TaskPhase::Running),
            task("web.3.c", 7, N2, TaskPhase::Running),
        ],
        vec![N1, N2],
    );
    let (after, _) = desired(&gone, &opts());
    assert_eq!(
        cmds(&plan(&want, &after, &BTreeSet::new())),
        [
            "arp.del 10.0.1.4",
            "fdb.del 02:42:0a:00:01:04",
            "backend.del 10.0.1.4"
        ]
    );
}

#[test]
fn a_node_leaving_takes_its_vtep_unless_something_else_uses_it() {
    let (have, _) = desired(
        &swarm(
            vec![task("web.1.a", 3, N1, TaskPhase::Running)],
            vec![N1, N2],
        ),
        &opts(),
    );
    let (want, _) = desired(
        &swarm(vec![task("web.1.a", 3, N1, TaskPhase::Running)], vec![N1]),
        &opts(),
    );
    assert_eq!(
        cmds(&plan(&have, &want, &BTreeSet::new())),
        ["vni.flood.del 172.31.0.12", "vtep.del 172.31.0.12"]
    );
    assert_eq!(
        cmds(&plan(&have, &want, &BTreeSet::from([N2]))),
        ["vni.flood.del 172.31.0.12"],
        "another VNI still floods to N2"
    );
}

#[test]
fn a_changed_port_remakes_the_service_and_unserved_things_are_left_alone() {
    let s = swarm(vec![task("web.1.a", 3, N1, TaskPhase::Running)], vec![N1]);
    let (have, _) = desired(&s, &opts());
    let mut s2 = s.clone();
    s2.services[0].publish[0].target = 9090;
    let (want, _) = desired(&s2, &opts());
    assert_eq!(
        cmds(&plan(&have, &want, &BTreeSet::new())),
        ["service.del web-tcp-80", "service.add web-tcp-80"]
    );
    // A service labelled vxgw.mode=preserve keeps its clients' addresses.
    let mut s3 = s.clone();
    s3.services[0].mode_label = Some(Mode::Preserve);
    assert_eq!(
        desired(&s3, &opts()).0.services["web-tcp-80"].mode,
        Mode::Preserve
    );
    // A network vxgw does not serve: nothing, and a warning for the service.
    let mut other = opts();
    other.served[0].network = "elsewhere".into();
    let (none, warnings) = desired(&s, &other);
    assert!(none.vnis.is_empty() && none.services.is_empty());
    assert_eq!(warnings.len(), 2, "{warnings:?}");
}
