//! Ethernet ports: configuration, queues, link, statistics.
//!
//! `Port::start` hands out one `RxQueue` and one `TxQueue` per queue id; they are not
//! `Clone`, so each queue is polled by exactly one lcore (DPDK's queues are not
//! thread-safe). Queues keep the port alive; the port is stopped and closed when
//! the last handle goes.

use std::ffi::{CStr, CString};
use std::sync::Arc;

use super::error::check;
use super::{DpdkError, Mbuf, MbufBurst, Mempool, Result, Ring, BURST_SIZE};

use super::rss::{self, RssState, RSS_IPV4_TCP_UDP, RSS_KEY};

/// How to bring a port up.
#[derive(Debug, Clone)]
pub struct PortConfig {
    /// Receive queues (one per worker polling this port).
    pub rx_queues: u16,
    /// Transmit queues (one per worker sending on this port).
    pub tx_queues: u16,
    /// Receive descriptors per queue (adjusted to the device's limits).
    pub rx_desc: u16,
    /// Transmit descriptors per queue (adjusted to the device's limits).
    pub tx_desc: u16,
    /// MTU to set, if any.
    pub mtu: Option<u16>,
    /// Accept every destination MAC (a gateway port must: it bridges).
    pub promiscuous: bool,
    /// What RSS hashes with several rx queues ([`rss::RSS_IPV4_UDP`],
    /// [`RSS_IPV4_TCP_UDP`]); the key is [`RSS_KEY`], the redirection table spreads
    /// over the queues in turn.
    pub rss_fields: u64,
}

impl Default for PortConfig {
    fn default() -> Self {
        PortConfig {
            rx_queues: 1,
            tx_queues: 1,
            rx_desc: 1024,
            tx_desc: 1024,
            mtu: None,
            promiscuous: true,
            rss_fields: RSS_IPV4_TCP_UDP,
        }
    }
}

/// Link state as the driver reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkStatus {
    /// Link up.
    pub up: bool,
    /// Speed in Mbit/s (0 when unknown).
    pub speed_mbps: u32,
    /// Full duplex.
    pub full_duplex: bool,
}

/// Basic counters of a port (`rte_eth_stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortStats {
    /// Packets received.
    pub rx_packets: u64,
    /// Packets sent.
    pub tx_packets: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Packets dropped by the NIC because no rx descriptor was free.
    pub rx_missed: u64,
    /// Erroneous received packets.
    pub rx_errors: u64,
    /// Failed transmits.
    pub tx_errors: u64,
    /// Receive mbuf allocation failures.
    pub rx_nombuf: u64,
}

/// An MTU the driver did not set, and that is no reason to stop: the device carries
/// frames of that size all the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MtuRefusal {
    /// The driver has no MTU operation (net_pcap, net_ring).
    Unsupported,
    /// A virtual device whose driver states this maximum frame length (bytes), below
    /// the MTU asked for, though it carries larger frames (DPDK 22.11's net_af_packet
    /// and net_tap: 1518 and 1522); the kernel interface's MTU is the link's.
    AboveDriverMax(u32),
}

/// True when the port's device sits on the virtual-device bus (`--vdev`).
fn on_vdev_bus(info: &dpdk_sys::rte_eth_dev_info) -> bool {
    if info.device.is_null() {
        return false;
    }
    // SAFETY: info.device is the port's device, valid while the port exists;
    // rte_dev_bus accepts any device handle.
    let bus = unsafe { dpdk_sys::rte_dev_bus(info.device) };
    if bus.is_null() {
        return false;
    }
    // SAFETY: bus is a registered bus; its name is a static C string.
    let name = unsafe { CStr::from_ptr(dpdk_sys::rte_bus_name(bus)) };
    name.to_bytes() == b"vdev"
}

struct PortInner {
    id: u16,
    name: String,
    started: std::sync::atomic::AtomicBool,
    /// Why the driver did not set the MTU asked for, where that is no error.
    mtu_refusal: Option<MtuRefusal>,
    /// With RSS on: the device's redirection table and key sizes.
    rss: Option<(u16, u8)>,
    // Keep what the port's queues point into alive as long as the port.
    _pools: Vec<Arc<Mempool>>,
    _rings: Vec<Arc<Ring>>,
}

impl Drop for PortInner {
    fn drop(&mut self) {
        // SAFETY: no queue handle is left (they hold this Arc), so no lcore polls
        // the port; stop then close is the documented teardown order.
        unsafe {
            if self.started.load(std::sync::atomic::Ordering::Relaxed) {
                dpdk_sys::rte_eth_dev_stop(self.id);
            }
            dpdk_sys::rte_eth_dev_close(self.id);
        }
    }
}

/// A probed ethdev port, not yet started.
pub struct Port {
    id: u16,
    name: String,
    rings: Vec<Arc<Ring>>,
}

/// A started port's shared handle (for stats and link from the control side).
#[derive(Clone)]
pub struct StartedPort {
    inner: Arc<PortInner>,
}

impl Port {
    /// Every port EAL probed, in port-id order.
    pub fn all() -> Vec<Port> {
        let mut v = Vec::new();
        for id in 0..dpdk_sys::RTE_MAX_ETHPORTS as u16 {
            // SAFETY: a validity query on any id.
            if unsafe { dpdk_sys::rte_eth_dev_is_valid_port(id) } == 1 {
                if let Ok(p) = Port::by_id(id) {
                    v.push(p);
                }
            }
        }
        v
    }

    /// The port with this id.
    pub fn by_id(id: u16) -> Result<Port> {
        // SAFETY: a validity query on any id.
        if unsafe { dpdk_sys::rte_eth_dev_is_valid_port(id) } != 1 {
            return Err(DpdkError::InvalidArgument(format!("no port {id}")));
        }
        let mut buf = [0 as libc::c_char; 64];
        // SAFETY: buf has RTE_ETH_NAME_MAX_LEN (64) bytes as the API requires.
        check("rte_eth_dev_get_name_by_port", unsafe {
            dpdk_sys::rte_eth_dev_get_name_by_port(id, buf.as_mut_ptr())
        })?;
        // SAFETY: DPDK wrote a NUL-terminated name into buf.
        let name = unsafe { CStr::from_ptr(buf.as_ptr()) }
            .to_string_lossy()
            .into_owned();
        Ok(Port {
            id,
            name,
            rings: Vec::new(),
        })
    }

    /// The port with this device name (e.g. "net_pcap0", "0000:01:00.0").
    pub fn by_name(name: &str) -> Result<Port> {
        let c = CString::new(name).map_err(|e| DpdkError::InvalidArgument(e.to_string()))?;
        let mut id = 0u16;
        // SAFETY: c is a valid C string and id a valid out pointer.
        let ret = unsafe { dpdk_sys::rte_eth_dev_get_port_by_name(c.as_ptr(), &mut id) };
        if ret < 0 {
            return Err(DpdkError::InvalidArgument(format!("no port named {name}")));
        }
        Port::by_id(id)
    }

    /// Creates a port over DPDK rings (the net_ring PMD): what is enqueued on
    /// `rx[i]` is received on queue i; what is sent on queue i lands in `tx[i]`.
    pub fn from_rings(name: &str, rx: &[Arc<Ring>], tx: &[Arc<Ring>], socket: u32) -> Result<Port> {
        let c = CString::new(name).map_err(|e| DpdkError::InvalidArgument(e.to_string()))?;
        let rxp: Vec<*mut dpdk_sys::rte_ring> = rx.iter().map(|r| r.as_ptr()).collect();
        let txp: Vec<*mut dpdk_sys::rte_ring> = tx.iter().map(|r| r.as_ptr()).collect();
        // SAFETY: the ring pointers are live (kept alive by the returned Port and
        // later by the started port) and the arrays have the given lengths.
        let ret = unsafe {
            dpdk_sys::rte_eth_from_rings(
                c.as_ptr(),
                rxp.as_ptr(),
                rxp.len() as u32,
                txp.as_ptr(),
                txp.len() as u32,
                socket,
            )
        };
        if ret < 0 {
            return Err(DpdkError::from_errno("rte_eth_from_rings"));
        }
        let mut p = Port::by_id(ret as u16)?;
        p.rings = rx.iter().chain(tx.iter()).cloned().collect();
        Ok(p)
    }

    /// Port id.
    pub fn id(&self) -> u16 {
        self.id
    }

    /// Device name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Driver limits: (max rx queues, max tx queues).
    pub fn max_queues(&self) -> Result<(u16, u16)> {
        let info = dev_info(self.id)?;
        Ok((info.max_rx_queues, info.max_tx_queues))
    }

    /// Driver name (e.g. "net_pcap").
    pub fn driver(&self) -> String {
        dev_info(self.id)
            .ok()
            .filter(|i| !i.driver_name.is_null())
            // SAFETY: driver_name is a static C string owned by the driver.
            .map(|i| {
                unsafe { CStr::from_ptr(i.driver_name) }
                    .to_string_lossy()
                    .into_owned()
            })
            .unwrap_or_default()
    }

    /// NUMA socket of the device (0 when unknown).
    pub fn socket(&self) -> u32 {
        // SAFETY: id is a valid port.
        let s = unsafe { dpdk_sys::rte_eth_dev_socket_id(self.id) };
        if s < 0 {
            0
        } else {
            s as u32
        }
    }

    /// Configures queues (RSS when several rx queues and the device hashes), sets
    /// MTU and promiscuous mode, starts the port, and returns its queues.
    pub fn start(
        self,
        cfg: &PortConfig,
        pool: &Arc<Mempool>,
    ) -> Result<(StartedPort, Vec<RxQueue>, Vec<TxQueue>)> {
        let info = dev_info(self.id)?;
        if cfg.rx_queues > info.max_rx_queues || cfg.tx_queues > info.max_tx_queues {
            return Err(DpdkError::Unsupported(format!(
                "port {} ({}) offers {} rx / {} tx queues, {} rx / {} tx needed (one per worker): use fewer worker lcores",
                self.id, self.name, info.max_rx_queues, info.max_tx_queues, cfg.rx_queues, cfg.tx_queues
            )));
        }
        let mut conf = dpdk_sys::rte_eth_conf::default();
        let rss_hf = cfg.rss_fields & info.flow_type_rss_offloads;
        let rss_on = cfg.rx_queues > 1 && rss_hf != 0;
        let mut key = RSS_KEY;
        if rss_on {
            conf.rxmode.mq_mode = dpdk_sys::RTE_ETH_MQ_RX_RSS;
            conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
            // A device with another key size keeps its own key (0: the driver does
            // not say, and takes Toeplitz's 40 bytes).
            if matches!(usize::from(info.hash_key_size), 0 | 40) {
                conf.rx_adv_conf.rss_conf.rss_key = key.as_mut_ptr();
                conf.rx_adv_conf.rss_conf.rss_key_len = key.len() as u8;
            }
        }
        // SAFETY: id valid; conf is a fully initialised rte_eth_conf, its key pointer
        // (if set) to `key`, which outlives the call.
        check("rte_eth_dev_configure", unsafe {
            dpdk_sys::rte_eth_dev_configure(self.id, cfg.rx_queues, cfg.tx_queues, &conf)
        })?;
        if rss_on {
            rss::set_key(self.id, rss_hf, info.hash_key_size)?;
            if info.reta_size > 0 {
                rss::set_reta(self.id, info.reta_size, cfg.rx_queues)?;
            }
        }
        let (mut nrx, mut ntx) = (cfg.rx_desc, cfg.tx_desc);
        // SAFETY: id valid; pointers to two u16s.
        check("rte_eth_dev_adjust_nb_rx_tx_desc", unsafe {
            dpdk_sys::rte_eth_dev_adjust_nb_rx_tx_desc(self.id, &mut nrx, &mut ntx)
        })?;
        let socket = self.socket();
        for q in 0..cfg.rx_queues {
            // SAFETY: id/q valid after configure; NULL rxconf = driver defaults;
            // pool stays alive as long as the port (kept in PortInner).
            check("rte_eth_rx_queue_setup", unsafe {
                dpdk_sys::rte_eth_rx_queue_setup(
                    self.id,
                    q,
                    nrx,
                    socket,
                    std::ptr::null(),
                    pool.as_ptr(),
                )
            })?;
        }
        for q in 0..cfg.tx_queues {
            // SAFETY: id/q valid after configure; NULL txconf = driver defaults.
            check("rte_eth_tx_queue_setup", unsafe {
                dpdk_sys::rte_eth_tx_queue_setup(self.id, q, ntx, socket, std::ptr::null())
            })?;
        }
        let mut mtu_refusal = None;
        if let Some(mtu) = cfg.mtu {
            // SAFETY: id valid.
            let ret = unsafe { dpdk_sys::rte_eth_dev_set_mtu(self.id, mtu) };
            if ret == -libc::ENOTSUP {
                // No such operation (net_pcap, net_ring): it carries what it is given.
                mtu_refusal = Some(MtuRefusal::Unsupported);
            } else if ret == -libc::EINVAL && on_vdev_bus(&info) {
                // A virtual device over a kernel interface (net_af_packet, net_tap)
                // whose driver states a smaller maximum than it carries: the kernel
                // interface's MTU is the link's. A NIC that refuses is an error.
                mtu_refusal = Some(MtuRefusal::AboveDriverMax(info.max_rx_pktlen));
            } else {
                check("rte_eth_dev_set_mtu", ret)?;
            }
        }
        // SAFETY: id valid and configured.
        check("rte_eth_dev_start", unsafe {
            dpdk_sys::rte_eth_dev_start(self.id)
        })?;
        if cfg.promiscuous {
            // SAFETY: id valid. Some virtual devices have no such mode: not fatal.
            let _ = unsafe { dpdk_sys::rte_eth_promiscuous_enable(self.id) };
        }
        let inner = Arc::new(PortInner {
            id: self.id,
            name: self.name.clone(),
            started: std::sync::atomic::AtomicBool::new(true),
            mtu_refusal,
            rss: rss_on.then_some((info.reta_size, info.hash_key_size.max(40))),
            _pools: vec![pool.clone()],
            _rings: self.rings.clone(),
        });
        let rxq = (0..cfg.rx_queues)
            .map(|q| RxQueue {
                port: self.id,
                queue: q,
                _keep: inner.clone(),
            })
            .collect();
        let txq = (0..cfg.tx_queues)
            .map(|q| TxQueue {
                port: self.id,
                queue: q,
                _keep: inner.clone(),
            })
            .collect();
        Ok((StartedPort { inner }, rxq, txq))
    }
}

impl StartedPort {
    /// Port id.
    pub fn id(&self) -> u16 {
        self.inner.id
    }

    /// Device name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The port's MAC address.
    pub fn mac(&self) -> [u8; 6] {
        let mut a = dpdk_sys::rte_ether_addr::default();
        // SAFETY: id valid; a is a valid out pointer.
        unsafe { dpdk_sys::rte_eth_macaddr_get(self.inner.id, &mut a) };
        a.addr_bytes
    }

    /// The device's current MTU (bytes of IP packet); 1500 when the driver does not say.
    pub fn mtu(&self) -> u16 {
        let mut m = 0u16;
        // SAFETY: id valid; m is a valid out pointer.
        let ret = unsafe { dpdk_sys::rte_eth_dev_get_mtu(self.inner.id, &mut m) };
        if ret < 0 || m == 0 {
            1500
        } else {
            m
        }
    }

    /// Why the driver did not set the MTU asked for, when that was let pass (see
    /// [`MtuRefusal`]); None when it was set, or none was asked for.
    pub fn mtu_refusal(&self) -> Option<MtuRefusal> {
        self.inner.mtu_refusal
    }

    /// The port's RSS as its device reports it: None when it does not hash (one rx
    /// queue, or a device without RSS such as net_ring, net_pcap, net_af_packet).
    pub fn rss(&self) -> Option<RssState> {
        let (reta_size, key_size) = self.inner.rss?;
        rss::query(self.inner.id, reta_size, key_size)
    }

    /// Link state without waiting for autonegotiation.
    pub fn link(&self) -> LinkStatus {
        let mut l = dpdk_sys::rte_eth_link::default();
        // SAFETY: id valid; l is a valid out pointer.
        unsafe { dpdk_sys::rte_eth_link_get_nowait(self.inner.id, &mut l) };
        LinkStatus {
            up: l.link_status() != 0,
            speed_mbps: l.link_speed,
            full_duplex: l.link_duplex() != 0,
        }
    }

    /// Hardware/driver counters.
    pub fn stats(&self) -> PortStats {
        let mut s = dpdk_sys::rte_eth_stats::default();
        // SAFETY: id valid; s is a valid out pointer. Reading stats is allowed from
        // any thread while the port runs.
        unsafe { dpdk_sys::rte_eth_stats_get(self.inner.id, &mut s) };
        PortStats {
            rx_packets: s.ipackets,
            tx_packets: s.opackets,
            rx_bytes: s.ibytes,
            tx_bytes: s.obytes,
            rx_missed: s.imissed,
            rx_errors: s.ierrors,
            tx_errors: s.oerrors,
            rx_nombuf: s.rx_nombuf,
        }
    }

    /// Stops the port now (queues must no longer be polled). Idempotent.
    pub fn stop(&self) {
        if self
            .inner
            .started
            .swap(false, std::sync::atomic::Ordering::Relaxed)
        {
            // SAFETY: id valid; callers stop only after workers have returned.
            unsafe { dpdk_sys::rte_eth_dev_stop(self.inner.id) };
        }
    }
}

fn dev_info(id: u16) -> Result<dpdk_sys::rte_eth_dev_info> {
    let mut info = dpdk_sys::rte_eth_dev_info::default();
    // SAFETY: id valid; info is a valid out pointer.
    check("rte_eth_dev_info_get", unsafe {
        dpdk_sys::rte_eth_dev_info_get(id, &mut info)
    })?;
    Ok(info)
}

/// One receive queue of a started port; polled by exactly one lcore.
pub struct RxQueue {
    port: u16,
    queue: u16,
    _keep: Arc<PortInner>,
}

/// One transmit queue of a started port; used by exactly one lcore.
pub struct TxQueue {
    port: u16,
    queue: u16,
    _keep: Arc<PortInner>,
}

impl RxQueue {
    /// Port id.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Queue id.
    pub fn queue(&self) -> u16 {
        self.queue
    }

    /// Receives up to `BURST_SIZE - burst.len()` packets into `burst`; returns how
    /// many arrived.
    #[inline]
    pub fn rx_burst(&mut self, burst: &mut MbufBurst) -> usize {
        let (ptrs, len) = burst.raw_parts_mut();
        let room = (BURST_SIZE - *len) as u16;
        // SAFETY: this handle is the queue's only poller (not Clone, &mut self);
        // ptrs[len..] has `room` slots for the driver to fill with owned mbufs.
        let n = unsafe {
            dpdk_sys::rte_eth_rx_burst(self.port, self.queue, ptrs.as_mut_ptr().add(*len), room)
        } as usize;
        *len += n;
        n
    }
}

impl TxQueue {
    /// Port id.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Queue id.
    pub fn queue(&self) -> u16 {
        self.queue
    }

    /// Sends the burst's packets in order; returns how many the device took.
    /// The ones it did not take stay in `burst`, moved to its front.
    #[inline]
    pub fn tx_burst(&mut self, burst: &mut MbufBurst) -> usize {
        let (ptrs, len) = burst.raw_parts_mut();
        if *len == 0 {
            return 0;
        }
        // SAFETY: this handle is the queue's only user; ptrs[..len] are owned mbufs,
        // and those the driver accepts become its property.
        let sent = unsafe {
            dpdk_sys::rte_eth_tx_burst(self.port, self.queue, ptrs.as_mut_ptr(), *len as u16)
        } as usize;
        if sent < *len {
            ptrs.copy_within(sent..*len, 0);
        }
        *len -= sent;
        sent
    }

    /// Sends one packet; gives it back if the device queue is full.
    pub fn tx_one(&mut self, m: Mbuf) -> std::result::Result<(), Mbuf> {
        let mut b = MbufBurst::new();
        b.push(m).ok();
        self.tx_burst(&mut b);
        b.pop().map_or(Ok(()), Err)
    }
}
