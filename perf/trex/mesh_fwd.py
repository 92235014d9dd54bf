"""vxgw routing mesh, forward: clients (198.18.0.0 + c, port 1024 + c) send TCP
segments to 192.0.2.1:8000-8003, four SNAT services of 8 backends each; vxgw
tracks each flow, balances it with Maglev, rewrites both addresses and sends it
in VXLAN to the backends' node (172.30.0.12). Config: configs/bench-mesh.toml.
Send on the TRex port cabled to vxgw's external port; receive on the underlay one.

  start -f perf/trex/mesh_fwd.py -p 1 -m 5mpps -t --flows 65536 --dst-mac <external MAC>
"""
import stl_streams as st
import vxgw_bench as b


class MeshFwd:
    def get_streams(self, direction=0, port_id=0, tunables=(), **kwargs):
        p = st.parser(__doc__)
        st.mesh_args(p)
        args = st.parse(p, tunables)
        st.check_mesh(args)
        return st.client_streams(args, b.SNAT_PORT_BASE)


def register():
    return MeshFwd()
