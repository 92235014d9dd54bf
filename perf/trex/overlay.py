"""vxgw bidirectional overlay: decap.py's VXLAN on direction 0 (the TRex port
cabled to vxgw's underlay) and encap.py's frames on direction 1 (the port cabled
to its access port), as CSIT's L2 bridge-domain VXLAN tests run.
Config: configs/bench-overlay.toml.

  start -f perf/trex/overlay.py -p 0 1 -m 5mpps -t --size imix --dst-mac <underlay MAC> --dst-mac-1 <access MAC>
"""
import stl_streams as st


class Overlay:
    def get_streams(self, direction=0, port_id=0, tunables=(), **kwargs):
        p = st.parser(__doc__)
        st.encap_args(p)
        p.add_argument("--dst-mac-1", default=None, help="vxgw's access port MAC (direction 1)")
        args = st.parse(p, tunables)
        st.check_overlay(args)
        if direction == 0:
            return st.decap_streams(args)
        args.dst_mac = args.dst_mac_1
        return st.encap_streams(args)


def register():
    return Overlay()
