//! AFL++ target: frames received on the external port (see `vxgw_fuzz::external`).
fn main() {
    afl::fuzz!(|data: &[u8]| vxgw_fuzz::external(data));
}
