//! Receive-side scaling, set explicitly: which header fields the device hashes,
//! with which key, and the redirection table from hash to queue, so that a port's
//! spreading is known and the same on every start (not whatever the driver
//! defaults to), and can be read back from the device.

use super::error::check;
use super::Result;

// RSS hash types (RTE_ETH_RSS_* are macro expressions bindgen cannot evaluate).
const IPV4: u64 = 1 << 2;
const FRAG_IPV4: u64 = 1 << 3;
const NONFRAG_IPV4_TCP: u64 = 1 << 4;
const NONFRAG_IPV4_UDP: u64 = 1 << 5;

/// Hash IPv4 UDP by addresses and ports (other IPv4 by addresses): a VXLAN sender
/// puts its inner flow's entropy in the outer UDP source port.
pub const RSS_IPV4_UDP: u64 = IPV4 | FRAG_IPV4 | NONFRAG_IPV4_UDP;
/// Hash IPv4 TCP and UDP by the 5-tuple (other IPv4 by addresses).
pub const RSS_IPV4_TCP_UDP: u64 = IPV4 | FRAG_IPV4 | NONFRAG_IPV4_TCP | NONFRAG_IPV4_UDP;

/// The names of the hash types in a mask, as DPDK's documentation spells them.
pub fn rss_field_names(mask: u64) -> Vec<&'static str> {
    [
        (IPV4, "ipv4"),
        (FRAG_IPV4, "ipv4-frag"),
        (NONFRAG_IPV4_TCP, "ipv4-tcp"),
        (NONFRAG_IPV4_UDP, "ipv4-udp"),
    ]
    .iter()
    .filter(|(bit, _)| mask & bit != 0)
    .map(|&(_, name)| name)
    .collect()
}

/// The Toeplitz key vxgw sets: 0x6d5a repeated. With it the hash of a flow is the
/// same both ways (source and destination swapped), so on a port that carries both
/// directions of a flow they reach the same worker, and it spreads as well as the
/// usual keys (Woo and Park, "Scalable TCP session monitoring with symmetric RSS").
pub const RSS_KEY: [u8; 40] = {
    let mut k = [0u8; 40];
    let mut i = 0;
    while i < 40 {
        k[i] = if i % 2 == 0 { 0x6d } else { 0x5a };
        i += 1;
    }
    k
};

/// A port's RSS as the device reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RssState {
    /// The hash types (`RTE_ETH_RSS_*` bits; [`rss_field_names`]).
    pub fields: u64,
    /// The hash key.
    pub key: Vec<u8>,
    /// The redirection table: entry i is the queue of the packets whose hash is i
    /// modulo its size.
    pub reta: Vec<u16>,
}

/// Sets [`RSS_KEY`] and the hash types `fields` on port `id` once it is configured
/// (some drivers take the key only this way, not from the configuration). A device
/// whose key is not 40 bytes (`key_size`; 0: not said, taken as 40) keeps its own.
pub(super) fn set_key(id: u16, fields: u64, key_size: u8) -> Result<()> {
    let mut key = RSS_KEY;
    let ours = matches!(key_size, 0 | 40);
    let mut conf = dpdk_sys::rte_eth_rss_conf {
        rss_key: if ours {
            key.as_mut_ptr()
        } else {
            std::ptr::null_mut()
        },
        rss_key_len: if ours { key.len() as u8 } else { 0 },
        rss_hf: fields,
    };
    // SAFETY: id valid and configured; conf's key pointer (or NULL) is valid for
    // rss_key_len bytes during the call.
    let ret = unsafe { dpdk_sys::rte_eth_dev_rss_hash_update(id, &mut conf) };
    // No such operation: the key given at configuration is the one.
    if ret == -libc::ENOTSUP {
        return Ok(());
    }
    check("rte_eth_dev_rss_hash_update", ret)?;
    Ok(())
}

/// Sets the redirection table of port `id` (`size` entries, as its device has) to
/// spread over `queues` queues in turn: entry i -> queue i % queues.
pub(super) fn set_reta(id: u16, size: u16, queues: u16) -> Result<()> {
    let mut conf = reta_conf(size);
    for i in 0..size as usize {
        conf[i / 64].reta[i % 64] = (i % queues as usize) as u16;
    }
    // SAFETY: id valid and configured; conf holds size entries (ceil(size / 64)
    // groups of 64) with their mask bits set.
    check("rte_eth_dev_rss_reta_update", unsafe {
        dpdk_sys::rte_eth_dev_rss_reta_update(id, conf.as_mut_ptr(), size)
    })?;
    Ok(())
}

/// Port `id`'s hash types, key and redirection table (`reta_size` entries, key of
/// `key_size` bytes) as its device reports them; None when it does not say.
pub(super) fn query(id: u16, reta_size: u16, key_size: u8) -> Option<RssState> {
    let mut key = vec![0u8; key_size as usize];
    let mut hash = dpdk_sys::rte_eth_rss_conf {
        rss_key: key.as_mut_ptr(),
        rss_key_len: key.len() as u8,
        rss_hf: 0,
    };
    // SAFETY: id valid; hash points at a key buffer of rss_key_len bytes.
    let ret = unsafe { dpdk_sys::rte_eth_dev_rss_hash_conf_get(id, &mut hash) };
    if ret < 0 || hash.rss_hf == 0 {
        return None;
    }
    let mut conf = reta_conf(reta_size);
    // SAFETY: id valid; conf holds reta_size entries with their mask bits set.
    let ret = unsafe { dpdk_sys::rte_eth_dev_rss_reta_query(id, conf.as_mut_ptr(), reta_size) };
    let reta = if ret < 0 {
        Vec::new()
    } else {
        (0..reta_size as usize)
            .map(|i| conf[i / 64].reta[i % 64])
            .collect()
    };
    Some(RssState {
        fields: hash.rss_hf,
        key,
        reta,
    })
}

/// Groups of 64 entries for a table of `size` entries, every entry's mask bit set.
fn reta_conf(size: u16) -> Vec<dpdk_sys::rte_eth_rss_reta_entry64> {
    let groups = (size as usize).div_ceil(64);
    (0..groups)
        .map(|g| {
            let n = (size as usize - g * 64).min(64);
            dpdk_sys::rte_eth_rss_reta_entry64 {
                mask: if n == 64 { u64::MAX } else { (1u64 << n) - 1 },
                ..Default::default()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_the_symmetric_one_and_names_follow_the_bits() {
        assert!(RSS_KEY.chunks(2).all(|p| p == [0x6d, 0x5a]));
        assert_eq!(
            rss_field_names(RSS_IPV4_UDP),
            ["ipv4", "ipv4-frag", "ipv4-udp"]
        );
        assert_eq!(rss_field_names(RSS_IPV4_TCP_UDP).len(), 4);
        let c = reta_conf(128);
        assert_eq!((c.len(), c[1].mask), (2, u64::MAX));
        let c = reta_conf(40);
        assert_eq!((c.len(), c[0].mask), (1, (1 << 40) - 1));
    }
}
