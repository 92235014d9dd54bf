//! AFL++ target: frames received on the underlay port (see `vxgw_fuzz::underlay`).
fn main() {
    afl::fuzz!(|data: &[u8]| vxgw_fuzz::underlay(data));
}
