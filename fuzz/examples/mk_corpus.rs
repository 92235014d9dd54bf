//! Writes the seed corpus: `cargo run -p vxgw-fuzz --example mk_corpus -- fuzz/corpus`.
//! One small input per path of each port role (see the names), built from the lab's
//! addresses; the replies are addressed to the tracked connections as each lab
//! variant has them ([`vxgw_fuzz::flows`]).

use std::path::Path;

use vxgw_fuzz::frames::*;
use vxgw_fuzz::lab::*;
use vxgw_fuzz::{flows, make_input, Role, Variant};

const BCAST: [u8; 6] = [0xff; 6];
const ROUTER: [u8; 6] = UL_MAC;

fn v(byte: u8) -> Variant {
    Variant::of(byte)
}

fn udp_in(src: [u8; 6], dst: [u8; 6], sport: u16) -> Vec<u8> {
    udp(
        (src, dst),
        ([10, 255, 0, 100], sport),
        ([10, 255, 0, 11], 80),
        &[0xab; 40],
    )
}

fn main() {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "fuzz/corpus".into());
    let out = Path::new(&out);
    let mut seeds: Vec<(Role, &str, Variant, Vec<Vec<u8>>)> = Vec::new();
    let snat = v(0);
    let preserve = v(1);
    let unresolved = v(2);
    let fresh = v(4);
    let later = v(8);
    let f_snat = flows(snat).expect("the lab's connections");
    let f_pres = flows(preserve).expect("the lab's connections (preserve)");

    // Underlay: VXLAN from the nodes, the mesh's replies, ARP and ping for the VTEP.
    let c1 = CONTAINER_MACS[0];
    let mut u = |name, var, frames| seeds.push((Role::Underlay, name, var, frames));
    u(
        "decap_known_access",
        snat,
        vec![vxlan(0, 4096, &udp_in(c1, SRV_MAC, 1))],
    );
    u(
        "decap_unknown_flood",
        snat,
        vec![vxlan(0, 4096, &udp_in(c1, [2, 0x77, 0, 0, 0, 1], 2))],
    );
    u(
        "decap_broadcast",
        snat,
        vec![vxlan(0, 4096, &udp_in(c1, BCAST, 3))],
    );
    u(
        "decap_vni5000_tagged_out",
        snat,
        vec![vxlan(1, 5000, &udp_in(V5000_REMOTE_MAC, V5000_ACC_MAC, 4))],
    );
    u(
        "decap_unknown_vni",
        snat,
        vec![vxlan(0, 4097, &udp_in(c1, SRV_MAC, 5))],
    );
    u(
        "decap_inner_tagged",
        snat,
        vec![vxlan(0, 4096, &tagged(&udp_in(c1, SRV_MAC, 6), 200))],
    );
    let mut trailer = vxlan(0, 4096, &udp_in(c1, SRV_MAC, 7));
    trailer.extend_from_slice(&[0xee; 6]);
    u("decap_trailer", snat, vec![trailer]);
    u(
        "decap_arp_for_gateway",
        snat,
        vec![vxlan(
            0,
            4096,
            &arp(1, BCAST, (c1, CONTAINERS[0]), [10, 255, 0, 1]),
        )],
    );
    u(
        "decap_arp_reply_backend",
        unresolved,
        vec![vxlan(
            0,
            4096,
            &arp(2, ROUTER, (c1, CONTAINERS[0]), INGRESS),
        )],
    );
    u(
        "decap_ping_gateway",
        snat,
        vec![vxlan(
            0,
            4096,
            &ping((c1, ROUTER), CONTAINERS[0], [10, 255, 0, 1]),
        )],
    );
    u(
        "arp_for_vtep",
        snat,
        vec![arp(1, BCAST, (NODE_MACS[0], NODES[0]), VTEP_IP)],
    );
    u(
        "arp_reply_node",
        unresolved,
        vec![arp(2, UL_MAC, (NODE_MACS[1], NODES[1]), VTEP_IP)],
    );
    u(
        "ping_vtep",
        snat,
        vec![ping((NODE_MACS[0], UL_MAC), NODES[0], VTEP_IP)],
    );
    u(
        "mesh_reply_tcp",
        snat,
        vec![backend_tcp(f_snat, ACK | PSH, b"HTTP/1.0 200 OK\r\n")],
    );
    u(
        "mesh_reply_tcp_preserve",
        preserve,
        vec![backend_tcp(f_pres, ACK | PSH, b"hello")],
    );
    u(
        "mesh_reply_fin",
        snat,
        vec![backend_tcp(f_snat, ACK | FIN, &[])],
    );
    u("mesh_reply_rst", snat, vec![backend_tcp(f_snat, RST, &[])]);
    u("mesh_reply_udp", snat, vec![backend_udp(f_snat)]);
    u(
        "mesh_reply_unknown_conn",
        snat,
        vec![backend_tcp(
            Flows {
                tcp: (0, (INGRESS, 9)),
                ..f_snat
            },
            ACK,
            b"x",
        )],
    );
    u(
        "mesh_reply_expired",
        later,
        vec![backend_tcp(f_snat, ACK, b"late")],
    );
    // The backend's port unreachable about the client's packet (as it saw it).
    let (i, (to, to_port)) = f_snat.tcp;
    let quoted = tcp(
        (CLIENT_MAC, c1),
        (to, to_port),
        (CONTAINERS[i], 80),
        ACK,
        &[],
    )[14..]
        .to_vec();
    let err = icmp_error(
        (CONTAINER_MACS[i], ROUTER),
        CONTAINERS[i],
        to,
        3,
        3,
        [0; 4],
        &quoted,
    );
    u(
        "mesh_icmp_error_from_backend",
        snat,
        vec![vxlan(node_of(i), 4096, &err)],
    );
    let ttl = icmp_error(
        (CONTAINER_MACS[i], ROUTER),
        CONTAINERS[i],
        to,
        11,
        0,
        [0; 4],
        &quoted,
    );
    u(
        "mesh_icmp_time_exceeded",
        snat,
        vec![vxlan(node_of(i), 4096, &ttl)],
    );
    u(
        "burst_reply_then_decap",
        snat,
        vec![
            backend_tcp(f_snat, ACK, b"a"),
            vxlan(0, 4096, &udp_in(c1, SRV_MAC, 8)),
            backend_udp(f_snat),
        ],
    );
    u(
        "decap_unresolved",
        unresolved,
        vec![vxlan(0, 4096, &udp_in(c1, BCAST, 9))],
    );

    // Access: untagged VNI 4096, VLAN 200 = VNI 5000.
    let mut a = |name, var, frames| seeds.push((Role::Access, name, var, frames));
    a("encap_known", snat, vec![udp_in(SRV_MAC, c1, 10)]);
    a(
        "encap_node2",
        snat,
        vec![udp_in(SRV_MAC, CONTAINER_MACS[1], 11)],
    );
    a(
        "encap_unresolved",
        unresolved,
        vec![udp_in(SRV_MAC, c1, 12)],
    );
    a("flood_broadcast", snat, vec![udp_in(SRV_MAC, BCAST, 13)]);
    a(
        "flood_unknown",
        snat,
        vec![udp_in(SRV_MAC, [2, 0x77, 0, 0, 0, 2], 14)],
    );
    a(
        "vlan200_encap",
        snat,
        vec![tagged(&udp_in(V5000_ACC_MAC, V5000_REMOTE_MAC, 15), 200)],
    );
    a(
        "vlan200_flood",
        snat,
        vec![tagged(&udp_in(V5000_ACC_MAC, BCAST, 16), 200)],
    );
    a(
        "vlan300_unmapped",
        snat,
        vec![tagged(&udp_in(SRV_MAC, c1, 17), 300)],
    );
    a(
        "priority_tag",
        snat,
        vec![tagged(&udp_in(SRV_MAC, c1, 18), 0)],
    );
    let mut qinq = tagged(&udp_in(SRV_MAC, c1, 19), 200);
    qinq[12..14].copy_from_slice(&[0x88, 0xa8]);
    a("qinq", snat, vec![qinq]);
    a("same_segment", snat, vec![udp_in(c1, SRV_MAC, 20)]);
    a(
        "arp_suppressed",
        snat,
        vec![arp(1, BCAST, (SRV_MAC, SRV), [10, 255, 0, 13])],
    );
    a(
        "arp_for_gateway",
        snat,
        vec![arp(1, BCAST, (SRV_MAC, SRV), [10, 255, 0, 1])],
    );
    a(
        "arp_vlan200_suppressed",
        snat,
        vec![tagged(
            &arp(1, BCAST, (V5000_ACC_MAC, [10, 50, 0, 9]), [10, 50, 0, 1]),
            200,
        )],
    );
    a(
        "ping_gateway",
        snat,
        vec![ping((SRV_MAC, ROUTER), SRV, [10, 255, 0, 1])],
    );
    a(
        "tcp_to_router_mac",
        snat,
        vec![tcp(
            (SRV_MAC, ROUTER),
            (SRV, 80),
            (CLIENT, 53711),
            ACK,
            b"x",
        )],
    );
    let mut big = udp((SRV_MAC, c1), (SRV, 1), (CONTAINERS[0], 2), &[0; 1480]);
    big.truncate(1514);
    a("encap_over_mtu", snat, vec![big]);
    a(
        "burst_learn_then_send",
        snat,
        vec![
            udp_in([2, 0x66, 0, 0, 0, 1], c1, 21),
            udp_in(SRV_MAC, [2, 0x66, 0, 0, 0, 1], 22),
        ],
    );
    a("truncated", snat, vec![vec![0xff; 13]]);
    a("zero_source", snat, vec![udp_in([0; 6], c1, 23)]);

    // External: clients of published ports, ARP, ICMP.
    let mut e = |name, var, frames| seeds.push((Role::External, name, var, frames));
    e(
        "syn_new",
        fresh,
        vec![tcp(
            (CLIENT_MAC, EXT_MAC),
            (CLIENT, 40001),
            (PUBLISHED, 80),
            SYN,
            &[],
        )],
    );
    e(
        "syn_preserve",
        v(5),
        vec![tcp(
            (CLIENT_MAC, EXT_MAC),
            (CLIENT, 40002),
            (PUBLISHED, 80),
            SYN,
            &[],
        )],
    );
    e(
        "syn_unresolved",
        v(6),
        vec![tcp(
            (CLIENT_MAC, EXT_MAC),
            (CLIENT, 40003),
            (PUBLISHED, 80),
            SYN,
            &[],
        )],
    );
    e(
        "established_data",
        snat,
        vec![client_tcp(ACK | PSH, b"GET / HTTP/1.0\r\n\r\n")],
    );
    e(
        "established_preserve",
        preserve,
        vec![client_tcp(ACK, b"x")],
    );
    e("established_fin", snat, vec![client_tcp(ACK | FIN, &[])]);
    e("established_rst", snat, vec![client_tcp(RST, &[])]);
    e(
        "non_syn_unknown",
        snat,
        vec![tcp(
            (CLIENT_MAC, EXT_MAC),
            (CLIENT, 40004),
            (PUBLISHED, 80),
            ACK,
            b"x",
        )],
    );
    e("udp_query", snat, vec![client_udp()]);
    e(
        "udp_new",
        fresh,
        vec![udp(
            (CLIENT_MAC, EXT_MAC),
            (CLIENT, 40005),
            (PUBLISHED, 53),
            b"q",
        )],
    );
    e(
        "no_service",
        snat,
        vec![tcp(
            (CLIENT_MAC, EXT_MAC),
            (CLIENT, 40006),
            (PUBLISHED, 81),
            SYN,
            &[],
        )],
    );
    e(
        "arp_for_published",
        snat,
        vec![arp(1, BCAST, (CLIENT_MAC, CLIENT), PUBLISHED)],
    );
    e(
        "arp_reply_client",
        unresolved,
        vec![arp(2, EXT_MAC, (CLIENT_MAC, CLIENT), PUBLISHED)],
    );
    e(
        "ping_published",
        snat,
        vec![ping((CLIENT_MAC, EXT_MAC), CLIENT, PUBLISHED)],
    );
    let mut big = tcp(
        (CLIENT_MAC, EXT_MAC),
        (CLIENT, 53711),
        (PUBLISHED, 80),
        ACK,
        &[0x61; 1460],
    );
    big[20] |= 0x40; // DF
    let sum = checksum(&{
        let mut h = big[14..34].to_vec();
        h[10] = 0;
        h[11] = 0;
        h
    });
    big[24..26].copy_from_slice(&sum.to_be_bytes());
    e("frag_needed", snat, vec![big]);
    let quoted = tcp(
        (EXT_MAC, CLIENT_MAC),
        (PUBLISHED, 80),
        (CLIENT, 53711),
        ACK,
        &[],
    )[14..]
        .to_vec();
    e(
        "icmp_error_from_client",
        snat,
        vec![icmp_error(
            (CLIENT_MAC, EXT_MAC),
            CLIENT,
            PUBLISHED,
            3,
            3,
            [0; 4],
            &quoted,
        )],
    );
    let mut ttl1 = client_tcp(ACK, b"y");
    ttl1[22] = 1;
    let mut h = ttl1[14..34].to_vec();
    h[10] = 0;
    h[11] = 0;
    let sum = checksum(&h);
    ttl1[24..26].copy_from_slice(&sum.to_be_bytes());
    e("ttl_1", snat, vec![ttl1]);
    let mut frag = client_tcp(ACK, b"z");
    frag[20] = 0x20; // MF
    e("fragment", snat, vec![frag]);
    // A datagram in two fragments, reordered: the later one first (held, then sent
    // after the first). Variant bit 16 makes the IPv4 header checksums right.
    let whole = udp(
        (CLIENT_MAC, EXT_MAC),
        (CLIENT, 40009),
        (PUBLISHED, 53),
        &[0x5a; 24],
    );
    let piece = |bytes: Vec<u8>, flags_offset: u16| {
        let mut f = bytes;
        let total = (f.len() - 14) as u16;
        f[16..18].copy_from_slice(&total.to_be_bytes());
        f[18..20].copy_from_slice(&0x4242u16.to_be_bytes());
        f[20..22].copy_from_slice(&flags_offset.to_be_bytes());
        f
    };
    let first_piece = piece(whole[..14 + 20 + 24].to_vec(), 0x2000);
    let later_piece = piece([&whole[..34], &whole[58..]].concat(), 3);
    e(
        "fragments_reordered",
        v(4 | 16),
        vec![later_piece, first_piece],
    );
    e(
        "burst_two_syns_same_tuple",
        fresh,
        vec![
            tcp(
                (CLIENT_MAC, EXT_MAC),
                (CLIENT, 40007),
                (PUBLISHED, 80),
                SYN,
                &[],
            ),
            tcp(
                (CLIENT_MAC, EXT_MAC),
                (CLIENT, 40007),
                (PUBLISHED, 80),
                SYN,
                &[],
            ),
        ],
    );
    e(
        "burst_syn_then_data",
        fresh,
        vec![
            tcp(
                (CLIENT_MAC, EXT_MAC),
                (CLIENT, 40008),
                (PUBLISHED, 80),
                SYN,
                &[],
            ),
            tcp(
                (CLIENT_MAC, EXT_MAC),
                (CLIENT, 40008),
                (PUBLISHED, 80),
                ACK,
                b"d",
            ),
        ],
    );
    e("expired_connection", later, vec![client_tcp(ACK, b"late")]);
    e(
        "not_for_us",
        snat,
        vec![udp(
            (CLIENT_MAC, [2, 9, 9, 9, 9, 9]),
            (CLIENT, 1),
            (PUBLISHED, 53),
            b"q",
        )],
    );

    for (role, name, var, frames) in seeds {
        let dir = out.join(role.name());
        std::fs::create_dir_all(&dir).expect("corpus directory");
        std::fs::write(dir.join(name), make_input(var, &frames)).expect("seed written");
    }
}
