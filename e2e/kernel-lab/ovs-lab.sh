# Sourced by guest-checks.sh: Debian's Open vSwitch (unpacked by lab.sh) on the kernel datapath:
# ovsdb-server, ovs-vswitchd, bridge br0 with veth ports v1, v2 to namespaces o1 (10.7.0.1) and
# o2 (10.7.0.2). ovs_up starts it; ovs_down stops it and removes what it made.
ovs_env() {
  . /run/klab-env
  export PATH=$KLAB_OVS/usr/bin:$KLAB_OVS/usr/sbin:$KLAB_OVS/usr/lib/openvswitch-switch:$PATH
  export LD_LIBRARY_PATH=$KLAB_OVS/usr/lib/x86_64-linux-gnu
  export OVS_RUNDIR=/run/ovs OVS_DBDIR=/run/ovs OVS_LOGDIR=/run/ovs OVS_SYSCONFDIR=/run/ovs
  export OVS_PKGDATADIR=$KLAB_OVS/usr/share/openvswitch
}
ovs_up() {
  ovs_env && mkdir -p /run/ovs &&
  ovsdb-tool create /run/ovs/conf.db "$OVS_PKGDATADIR/vswitch.ovsschema" &&
  ovsdb-server --remote=punix:/run/ovs/db.sock --pidfile --detach --log-file /run/ovs/conf.db &&
  ovs-vsctl --no-wait init && ovs-vswitchd --pidfile --detach --log-file && ovs-vsctl add-br br0 &&
  for n in 1 2; do
    ip netns add o$n && ip link add v$n type veth peer name e$n netns o$n &&
    ip -n o$n addr add 10.7.0.$n/24 dev e$n && ip -n o$n link set e$n up && ip link set v$n up &&
    ovs-vsctl add-port br0 v$n || return 1
  done
}
ovs_down() {
  ovs_env
  ovs-appctl -t ovs-vswitchd exit 2>/dev/null; ovs-appctl -t ovsdb-server exit 2>/dev/null
  ip netns del o1 2>/dev/null; ip netns del o2 2>/dev/null
}
