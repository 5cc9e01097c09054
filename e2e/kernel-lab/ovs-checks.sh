#!/usr/bin/env bash
# The OVS checks of the kernel lab: Debian's ovs-vswitchd on the openvswitch kernel datapath
# (ovs-lab.sh). Sourced by guest-checks.sh (which calls ovs_checks), or run alone in the guest:
#   e2e/kernel-lab/lab.sh e2e/kernel-lab/ovs-checks.sh
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/ovs-lab.sh"
J="node $here/ovs-json-check.mjs"

# A flow miss upcalls; the events show the upcall (command, handler port, CPU, datapath, in
# port), its enqueue and return, and the actions the datapath then executes.
ovs_miss() {
  ovs-dpctl del-flows 2>/dev/null
  $R collect -c ovs,skb,skb-tracking,dev --ovs-track -f 'icmp' -p tp:net:netif_receive_skb -o /tmp/o.json \
    --cmd 'ip netns exec o1 ping -c 1 -W 2 10.7.0.2 >/dev/null' >/tmp/o.txt 2>&1 || { cat /tmp/o.txt; return 1; }
  $R sort /tmp/o.json > /tmp/o-sorted.txt &&
  grep -q 'has no USDT probes' /tmp/o.txt &&
  grep -q 'upcall (miss) port [0-9]* cpu [0-9]* in_port [0-9]* dp ovs-system' /tmp/o-sorted.txt &&
  grep -q 'upcall_enqueue (miss) ([0-9]*/[0-9]*) q [0-9]* ret 0' /tmp/o-sorted.txt &&
  grep -q 'upcall_ret ([0-9]*/[0-9]*) ret 0' /tmp/o-sorted.txt &&
  grep -q 'exec oport [0-9]* ' /tmp/o-sorted.txt ||
  { grep -aoE '(upcall[a-z_]*|exec [a-z_]+)' /tmp/o-sorted.txt | sort | uniq -c | tr '\n' ';'; return 1; }
}
# The stand-in fires ovs-vswitchd's USDT probes for a frame it sends through br0 while the real
# ovs-vswitchd is stopped; the real one then handles the upcall and executes the packet. One
# series must hold the kernel upcall, the handler's read, put and execute, and the execution.
ovs_track() {
  mac=$(ip -n o2 -o link show e2 | sed 's/.*link\/ether \([^ ]*\).*/\1/')
  ovs-dpctl del-flows 2>/dev/null
  ip netns exec o1 bpf/.output/tests/ovs-mimic/ovs-vswitchd --mimic --iface e1 --dst "$mac" --count 2 \
    --wait-ms 300 --wait-signal 1 >/tmp/mimic.txt &
  mimic=$!
  # It must have become ovs-vswitchd (found by name) and be waiting for the signal.
  for i in $(seq 100); do [ "$(grep -c . /tmp/mimic.txt)" = 2 ] && grep -qx ovs-vswitchd /proc/$mimic/comm && break; sleep 0.1; done
  sleep 0.2
  MIMIC=$mimic VSWITCHD=$(cat /run/ovs/ovs-vswitchd.pid) $R collect -c ovs,skb,skb-tracking,dev --ovs-track \
    -f 'udp port 7777' -p tp:net:netif_receive_skb -o /tmp/u.json \
    --cmd 'kill -STOP $VSWITCHD; kill -USR1 $MIMIC; while kill -0 $MIMIC 2>/dev/null; do sleep 0.1; done; kill -CONT $VSWITCHD; sleep 2' \
    >/tmp/u.txt 2>&1 || { kill $mimic; cat /tmp/u.txt; return 1; }
  $R sort /tmp/u.json > /tmp/u-sorted.txt &&
  # Both frames: the whole path in one series; the first also has its put (the second, like
  # every third of a batch, has none).
  awk -v RS= '/upcall \(miss\)/ && /upcall_enqueue/ && /dpif_recv:recv_upcall/ && /flow_exec q/ &&
    /exec oport [0-9]+ q [0-9]+ in_port [0-9]+/ && /if [0-9]* \(e2\)/ {n++; if (/flow_put q/) p++}
    END {exit !(n == 2 && p == 1)}' /tmp/u-sorted.txt ||
  { awk -v RS= '{s=""; n=split($0, l, "\n"); for (i=1;i<=n;i++) if (l[i] ~ /upcall|exec |flow_|\[u\]/) {match(l[i], /upcall[a-z_]*|exec [a-z]+|flow_[a-z]+|\[u\] [^ ]+/); s=s " " substr(l[i], RSTART, RLENGTH)} print "series:" s}' /tmp/u-sorted.txt | tail -3; return 1; }
}
# A flow_lookup is reported when a packet hits a datapath flow (a miss goes up as an upcall,
# which other events tell). When ovs-vswitchd installed no flow that a packet then hit, there is
# nothing to look for: the check cannot judge (77), and says what the datapath did instead.
no_dp_hit() {
  grep -q 'packets:[1-9]' "$1" && return 1
  echo "no datapath flow was hit: ovs-vswitchd installed $(grep -c 'ufid:' "$1") flow(s) with packets, and $(grep -c '"event_type":"upcall"' "$2") upcall(s) went up"
}
# Deleting datapath flows behind ovs-vswitchd's back (ovs-dpctl del-flows) leaves its cache of
# them: it then installs no flow for those packets until its revalidator notices, and every
# packet misses. The lookup checks purge through ovs-vswitchd instead.
# flow_lookup: the second and third pings hit the flow the first one's upcall installed; the
# ufid the lookup reports is one ovs-vswitchd lists.
ovs_lookup() {
  ovs-appctl revalidator/purge >/dev/null  # flows and ovs-vswitchd's cache of them, together
  $R collect -c ovs,skb,skb-tracking,dev -f icmp -p tp:net:netif_receive_skb -o /tmp/l.json \
    --cmd 'ip netns exec o1 ping -c 3 -i 0.3 -W 2 10.7.0.2 >/dev/null; ovs-appctl dpctl/dump-flows -m > /tmp/l-flows.txt' \
    >/tmp/l.txt 2>&1 || { cat /tmp/l.txt; return 1; }
  no_dp_hit /tmp/l-flows.txt /tmp/l.json && return 77
  $J lookup /tmp/l.json /tmp/l-flows.txt 2>/tmp/l-check.txt ||
    { echo "$(cat /tmp/l-check.txt) | collect said: $(grep -v '^$' /tmp/l.txt | tr '\n' ';' | tail -c 600)"; return 1; }
}
# --ovs-enrich-flows: ovs-vswitchd (its unixctl socket) says what each looked-up flow is.
ovs_enrich() {
  ovs-appctl revalidator/purge >/dev/null  # flows and ovs-vswitchd's cache of them, together
  $R collect -c ovs,skb,skb-tracking,dev --ovs-enrich-flows -f icmp -p tp:net:netif_receive_skb -o /tmp/d.json \
    --cmd 'ip netns exec o1 ping -c 4 -i 0.3 -W 2 10.7.0.2 >/dev/null; ovs-appctl dpctl/dump-flows -m > /tmp/d-flows.txt; sleep 1' \
    >/tmp/d.txt 2>&1 || { cat /tmp/d.txt; return 1; }
  no_dp_hit /tmp/d-flows.txt /tmp/d.json && return 77
  $J detrace /tmp/d.json || { tail -4 /tmp/d.txt; return 1; }
  grep -h 'ofproto/detrace\|ovs-flow-enricher' /tmp/d.txt
}
# retrace sort joins each ovs-detrace answer to the flow_lookup events of its flow (file and text).
ovs_sort_detrace() {
  rm -f /tmp/d-sorted.json
  grep -q '"event_type":"flow_lookup"' /tmp/d.json || { echo 'no flow_lookup in the --ovs-enrich-flows run to join'; return 77; }
  $R sort /tmp/d.json -o /tmp/d-sorted.json && $J sorted /tmp/d-sorted.json || return 1
  $R sort /tmp/d.json >/tmp/d-sorted.txt && grep -q '^ *dpflow recirc_id([0-9]*),in_port([0-9]*)' /tmp/d-sorted.txt ||
    { echo 'no dpflow line under a flow_lookup in the text'; return 1; }
  grep -m1 -B1 '^ *dpflow ' /tmp/d-sorted.txt | sed 's/^ *//' | cut -c1-150
}
# GSO: a TCP stream's flows are deleted mid-way; the next (GSO) packet misses, goes up as
# segments, each enqueued with its own queue id, all recorded on the packet that went up.
ovs_gso() {
  cat > /tmp/gso-server.py <<'PY'
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.7.0.2", 5201)); s.listen(); s.settimeout(300)
c, _ = s.accept()
while c.recv(65536): pass
PY
  cat > /tmp/gso-client.py <<'PY'
import socket, subprocess, time
c = socket.create_connection(("10.7.0.2", 5201), timeout=10)
c.sendall(b"x" * 100); time.sleep(0.5)
subprocess.run(["ovs-appctl", "dpctl/del-flows"]); time.sleep(0.2)
c.sendall(b"y" * 300000); time.sleep(0.5); c.close()
PY
  ip netns exec o2 python3 /tmp/gso-server.py &
  local srv=$!
  # Emulated on a busy host, attaching alone can take tens of seconds: the server waits for
  # the client well beyond that.
  for i in $(seq 300); do ip netns exec o2 ss -ltn | grep -q ':5201 ' && break; sleep 0.1; done
  $R collect -c ovs,skb,skb-tracking,dev --ovs-track -f 'tcp port 5201' -p tp:net:netif_receive_skb -o /tmp/g.json \
    --cmd 'ip netns exec o1 python3 /tmp/gso-client.py; sleep 0.5' >/tmp/g.txt 2>&1 || { kill $srv 2>/dev/null; cat /tmp/g.txt; return 1; }
  wait $srv 2>/dev/null
  $J gso /tmp/g.json || { tail -3 /tmp/g.txt; return 1; }
}
# Action details: OpenFlow rules sending IP through conntrack (zone 5, recirculating to table 1),
# then committing new connections with a source NAT to the sender's own address.
ovs_ct() {
  ovs-ofctl add-flow br0 'table=0,priority=100,ip,ct_state=-trk,actions=ct(zone=5,table=1)' &&
  ovs-ofctl add-flow br0 'table=1,priority=100,ip,ct_state=+trk+new,actions=ct(commit,zone=5,nat(src=10.7.0.1)),NORMAL' &&
  ovs-ofctl add-flow br0 'table=1,priority=90,ip,ct_state=+trk,actions=NORMAL' || return 1
  ovs-dpctl del-flows 2>/dev/null
  $R collect -c ovs,skb,skb-tracking,dev -f icmp -p tp:net:netif_receive_skb -o /tmp/c.json \
    --cmd 'ip netns exec o1 ping -c 2 -i 0.3 -W 2 10.7.0.2 >/dev/null' >/tmp/c.txt 2>&1 || { cat /tmp/c.txt; return 1; }
  local rc=0
  $J ct /tmp/c.json || rc=1
  ovs-ofctl del-flows br0 && ovs-ofctl add-flow br0 'priority=0,actions=NORMAL'
  return $rc
}
ovs_checks() {
  if ovs_up >/tmp/ovs-up.txt 2>&1; then
    check "ovs: a flow miss upcall and its actions (real ovs-vswitchd)" ovs_miss
    check "ovs: --ovs-track follows the upcall through ovs-vswitchd's USDT probes and back" ovs_track
    check "ovs: flow_lookup names the datapath flow ovs-vswitchd installed" ovs_lookup
    check "ovs: --ovs-enrich-flows asks ovs-vswitchd about each flow looked up (ovs-detrace)" ovs_enrich
    check "ovs: retrace sort joins ovs-detrace to the flow_lookup events of its flow" ovs_sort_detrace
    check "ovs: a GSO upcall enqueued as several segments, each tracked" ovs_gso
    check "ovs: ct action details (zone, commit, NAT) and the recirc id" ovs_ct
  else
    echo "KLAB FAIL ovs setup: $(tail -3 /tmp/ovs-up.txt)"; bad=$((bad+1))
  fi
  ovs_down
}
# Alone in the guest: the checks' harness, then the result line lab.sh reads.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  cd "$here/../.."
  R="node cli/dist/bin/retrace.js"
  ok=0; bad=0
  check() {
    local name="$1" out rc; shift
    out=$("$@" 2>&1); rc=$?
    if [ $rc = 0 ]; then echo "KLAB PASS $name"; echo "$out" | tail -2 | sed 's/^/KLAB INFO /'; ok=$((ok+1))
    elif [ $rc = 77 ]; then echo "KLAB SKIP $name: $(echo "$out" | tail -1)"
    else echo "KLAB FAIL $name: $(echo "$out" | tail -3)"; bad=$((bad+1)); fi
  }
  ovs_checks
  echo "KLAB RESULT $ok passed, $bad failed"
fi
