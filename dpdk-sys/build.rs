//! Finds the system DPDK with pkg-config, generates bindings for the part of its API
//! vxgw uses, and compiles C wrappers for DPDK's `static inline` fast-path functions
//! (rx/tx burst, mbuf alloc/free, ring enqueue, ...) with DPDK's own cflags.

use std::env;
use std::path::PathBuf;

const MIN_DPDK: &str = "22.11";

fn main() {
    println!("cargo:rerun-if-changed=wrapper.h");
    println!("cargo:rerun-if-changed=shim.c");

    let dpdk = match pkg_config::Config::new()
        .atleast_version(MIN_DPDK)
        .cargo_metadata(true)
        .probe("libdpdk")
    {
        Ok(lib) => lib,
        Err(e) => {
            let first = e.to_string().lines().next().unwrap_or("").to_string();
            eprintln!(
                "error: DPDK >= {MIN_DPDK} not found by pkg-config (libdpdk): install the Debian package `libdpdk-dev` (scripts/install-deps.sh). [{first}]"
            );
            std::process::exit(1);
        }
    };
    // net_ring's rte_eth_from_rings() is used by the in-process tests and is not
    // in libdpdk.pc's link line (PMDs are plugins); link it by name.
    println!("cargo:rustc-link-lib=dylib=rte_net_ring");

    // DPDK's own compile flags (include dirs, -include rte_config.h, its -march).
    let cflags: Vec<String> = pkg_config::get_variable("libdpdk", "cflags")
        .ok()
        .filter(|s| !s.is_empty())
        .map(|s| s.split_whitespace().map(String::from).collect())
        .unwrap_or_else(|| {
            let out = std::process::Command::new("pkg-config")
                .args(["--cflags", "libdpdk"])
                .output()
                .expect("pkg-config runs");
            String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .map(String::from)
                .collect()
        });

    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    let wrap_c = out.join("static_fns.c");

    let mut builder = bindgen::Builder::default()
        .header("wrapper.h")
        .clang_args(
            dpdk.include_paths
                .iter()
                .map(|p| format!("-I{}", p.display())),
        )
        .clang_args(cflags.iter().filter(|f| f.starts_with("-D")))
        .clang_arg("-include")
        .clang_arg("rte_config.h")
        .wrap_static_fns(true)
        .wrap_static_fns_path(&wrap_c)
        .derive_default(true)
        .layout_tests(false)
        .generate_comments(false)
        .prepend_enum_name(false)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()));
    for f in [
        "rte_eal_.*",
        "rte_eth_.*",
        "rte_pktmbuf_.*",
        "rte_mbuf_.*",
        "rte_mempool_.*",
        "rte_lcore_.*",
        "rte_get_.*",
        "rte_socket_id",
        "rte_ring_.*",
        "rte_strerror",
        "rte_dev_bus",
        "rte_bus_name",
        "rte_version",
        "rte_rdtsc",
        "rte_pdump_.*",
        "rte_tel_data_.*",
        "rte_telemetry_.*",
        "rte_zmalloc.*",
        "rte_free",
        "vxgw_.*",
    ] {
        builder = builder.allowlist_function(f);
    }
    for v in ["RTE_.*", "RTE_ETH_.*"] {
        builder = builder.allowlist_var(v);
    }
    builder = builder
        .allowlist_type("rte_mbuf")
        .allowlist_type("rte_eth_.*")
        .blocklist_function("rte_eth_.*_dump")
        .blocklist_function("rte_eth_dev_priv_dump");
    let bindings = builder
        .generate()
        .expect("bindgen could not generate DPDK bindings");
    bindings
        .write_to_file(out.join("bindings.rs"))
        .expect("write bindings.rs");

    // Compile the generated static-inline wrappers and our shim with DPDK's cflags.
    let mut cc = cc::Build::new();
    cc.file(&wrap_c).file("shim.c").include(".");
    for p in &dpdk.include_paths {
        cc.include(p);
    }
    let mut it = cflags.iter();
    while let Some(f) = it.next() {
        if f == "-include" {
            if let Some(h) = it.next() {
                cc.flag("-include").flag(h);
            }
        } else if !f.starts_with("-I") {
            cc.flag(f);
        }
    }
    cc.flag_if_supported("-Wno-unused-parameter")
        .flag_if_supported("-Wno-deprecated-declarations")
        .opt_level(3)
        .compile("vxgw_dpdk_static_fns");
}
