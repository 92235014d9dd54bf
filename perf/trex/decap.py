"""vxgw decap: VXLAN from 4 VTEPs (172.30.0.12-15) in 4 VNIs into the overlay,
out of vxgw's access port (VNI 4096 untagged, 4097-4099 on VLANs 101-103).
Config: configs/bench-overlay.toml. Send on the TRex port cabled to vxgw's
underlay port; receive on the one cabled to its access port.

  start -f perf/trex/decap.py -p 0 -m 10mpps -t --size imix --dst-mac <underlay MAC>
"""
import stl_streams as st


class Decap:
    def get_streams(self, direction=0, port_id=0, tunables=(), **kwargs):
        p = st.parser(__doc__)
        st.decap_args(p)
        args = st.parse(p, tunables)
        st.check_overlay(args)
        return st.decap_streams(args)


def register():
    return Decap()
