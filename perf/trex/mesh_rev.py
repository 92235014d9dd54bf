"""vxgw routing mesh, reverse: the backends' replies, as VXLAN from their node
(172.30.0.12), to clients of the four preserve-mode services 192.0.2.1:9000-9003;
vxgw finds each connection, rewrites the source back to the published address
and routes the reply to the clients' gateway. Config: configs/bench-mesh.toml.

Two phases: `--phase warm` (on the TRex port cabled to vxgw's external port) sends
each client's segment once, which creates the connections; `--phase run` (the
default, on the port cabled to vxgw's underlay) sends the replies.

  start -f perf/trex/mesh_rev.py -p 1 -t --phase warm --flows 65536 --dst-mac <external MAC>
  start -f perf/trex/mesh_rev.py -p 0 -m 5mpps -t --flows 65536 --dst-mac <underlay MAC>
"""
import stl_streams as st
import vxgw_bench as b


class MeshRev:
    def get_streams(self, direction=0, port_id=0, tunables=(), **kwargs):
        p = st.parser(__doc__)
        st.mesh_args(p)
        p.add_argument("--phase", choices=["warm", "run"], default="run")
        args = st.parse(p, tunables)
        st.check_mesh(args)
        if args.phase == "warm":
            args.size = "64"
            return st.client_streams(args, b.PRESERVE_PORT_BASE, once=True)
        return st.reply_streams(args)


def register():
    return MeshRev()
