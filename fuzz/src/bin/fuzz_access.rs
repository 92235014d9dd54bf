//! AFL++ target: frames received on the access port (see `vxgw_fuzz::access`).
fn main() {
    afl::fuzz!(|data: &[u8]| vxgw_fuzz::access(data));
}
