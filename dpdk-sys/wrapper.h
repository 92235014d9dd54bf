/* The DPDK surface vxgw uses. bindgen reads this; static inline functions in it are
 * wrapped into real symbols (see build.rs) so Rust can call them. */
#include <rte_config.h>
#include <rte_version.h>
#include <rte_errno.h>
#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_launch.h>
#include <rte_cycles.h>
#include <rte_memory.h>
#include <rte_malloc.h>
#include <rte_mempool.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_ethdev.h>
#include <rte_dev.h>
#include <rte_bus.h>
#include <rte_eth_ring.h>
#include <rte_pdump.h>
#include <rte_telemetry.h>

/* rte_errno is a per-lcore thread-local macro, not a symbol bindgen can see. */
int vxgw_rte_errno(void);
