"""vxgw encap: frames on vxgw's access port (untagged into VNI 4096, or tagged
VLANs 101-103 into VNIs 4097-4099) to containers behind 4 VTEPs, out of its
underlay port as VXLAN. Config: configs/bench-overlay.toml. Send on the TRex port
cabled to vxgw's access port; receive on the one cabled to its underlay port.

  start -f perf/trex/encap.py -p 1 -m 10mpps -t --vlan tagged --size 64 --dst-mac <access MAC>
"""
import stl_streams as st


class Encap:
    def get_streams(self, direction=0, port_id=0, tunables=(), **kwargs):
        p = st.parser(__doc__)
        st.encap_args(p)
        args = st.parse(p, tunables)
        st.check_overlay(args)
        return st.encap_streams(args)


def register():
    return Encap()
