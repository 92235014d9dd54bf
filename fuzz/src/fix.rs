//! Checksums made right before a frame is received (a variant of the input, see
//! [`crate::Variant`]): the pipeline drops a packet whose IPv4 header checksum is
//! wrong before it looks further, so without this nearly every mutation of a header
//! would end there.

const ETH: usize = 14;

fn sum(b: &[u8]) -> u32 {
    b.chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum()
}

fn fold(mut s: u32) -> u16 {
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

/// The offset of the IPv4 header of the Ethernet frame at `at` (after one tag).
fn ip_at(f: &[u8], at: usize) -> Option<usize> {
    let t = u16::from_be_bytes(f.get(at + 12..at + 14)?.try_into().ok()?);
    match t {
        0x0800 => Some(at + ETH),
        0x8100 | 0x88a8 if f.get(at + 16..at + 18)? == [0x08, 0x00] => Some(at + ETH + 4),
        _ => None,
    }
}

/// Fixes the IPv4 header at `ip` (if `hdr`); returns (header length, end of packet).
fn fix_header(f: &mut [u8], ip: usize, hdr: bool) -> Option<(usize, usize)> {
    let b0 = *f.get(ip)?;
    let hl = usize::from(b0 & 0x0f) * 4;
    if b0 >> 4 != 4 || hl < 20 || ip + hl > f.len() {
        return None;
    }
    if hdr {
        f[ip + 10] = 0;
        f[ip + 11] = 0;
        let c = !fold(sum(&f[ip..ip + hl]));
        f[ip + 10..ip + 12].copy_from_slice(&c.to_be_bytes());
    }
    let total = usize::from(u16::from_be_bytes([f[ip + 2], f[ip + 3]]));
    let end = (ip + total).min(f.len());
    Some((hl, end.max(ip + hl)))
}

/// Fixes the transport checksum of the IPv4 packet at `ip`.
fn fix_l4(f: &mut [u8], ip: usize, hl: usize, end: usize) {
    let proto = f[ip + 9];
    let l4 = ip + hl;
    if end < l4 {
        return;
    }
    let len = end - l4;
    let pseudo = sum(&f[ip + 12..ip + 20]) + u32::from(proto) + len as u32;
    let at = match proto {
        6 if len >= 20 => 16,
        17 if len >= 8 => 6,
        1 if len >= 4 => 2,
        _ => return,
    };
    f[l4 + at] = 0;
    f[l4 + at + 1] = 0;
    let s = if proto == 1 {
        sum(&f[l4..end])
    } else {
        pseudo + sum(&f[l4..end])
    };
    let mut c = !fold(s);
    if proto == 17 && c == 0 {
        c = 0xffff;
    }
    f[l4 + at..l4 + at + 2].copy_from_slice(&c.to_be_bytes());
}

/// Makes the frame's IPv4 header checksums right (`hdr`): the outer one, and the
/// inner one of VXLAN; and the innermost packet's transport checksum (`l4`).
pub fn checksums(f: &mut [u8], hdr: bool, l4: bool) {
    let Some(ip) = ip_at(f, 0) else {
        return;
    };
    let Some((hl, end)) = fix_header(f, ip, hdr) else {
        return;
    };
    let vxlan = f[ip + 9] == 17
        && f.get(ip + hl + 2..ip + hl + 4) == Some(&[0x12, 0xb5][..])
        && end >= ip + hl + 16;
    if vxlan {
        let inner = ip + hl + 16;
        if let Some(iip) = ip_at(f, inner) {
            if let Some((ihl, iend)) = fix_header(f, iip, hdr) {
                if l4 {
                    fix_l4(f, iip, ihl, iend.min(end));
                }
            }
        }
        return;
    }
    if l4 {
        fix_l4(f, ip, hl, end);
    }
}
