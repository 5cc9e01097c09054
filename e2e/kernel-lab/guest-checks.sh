#!/usr/bin/env bash
# Runs inside the kernel lab guest (Debian 6.1): filters through the 6.1 verifier, the probe
# kinds this development kernel lacks (kprobe, kretprobe, fentry, fexit), raw tracepoints
# without cookies. Prints "KLAB PASS|FAIL name" lines and a "KLAB RESULT" line.
cd "$(dirname "$0")/../.."
R="node cli/dist/bin/retrace.js"
ok=0; bad=0
check() { local name="$1"; shift; if out=$("$@" 2>&1); then echo "KLAB PASS $name"; ok=$((ok+1)); else echo "KLAB FAIL $name: $(echo "$out" | tail -3)"; bad=$((bad+1)); fi; }
P=e2e/fixtures/tcpdump-pcap
check "filter tcp port 179" sh -c "$R filter -f 'tcp port 179' $P/bgp-4byte-asn.pcap | wc -l | grep -qx 79"
check "filter long" sh -c "$R filter -f 'tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn or (udp and port 53) or icmp6 or vlan 100' $P/bgp-4byte-asn.pcap >/dev/null"
check "collect raw_tp (per-load, no cookies) with -f and -m" $R collect -c skb,skb-drop,skb-tracking,dev,ns -f 'udp port 53' -m 'sk_buff.mark:0xff == 0' --duration 1 -o /tmp/a.json
ip link set lo up
T="ping -c 2 -i 0.2 127.0.0.1 >/dev/null"
fires() { local f=$1; shift; $R collect "$@" --cmd "$T" -o $f >/dev/null 2>&1 && grep -q '"symbol":"ip_rcv"' $f && $R print $f | grep -q ICMP; }
check "kprobe:ip_rcv fires with -f icmp" fires /tmp/b.json -p kprobe:ip_rcv -f icmp
check "kretprobe:ip_rcv fires" fires /tmp/c.json -p kretprobe:ip_rcv
check "fentry:ip_rcv fires with -f icmp" fires /tmp/d.json -p fentry:ip_rcv -f icmp
check "fexit:ip_rcv fires" fires /tmp/e.json -p fexit:ip_rcv
check "kprobe wildcard ip_rcv*" fires /tmp/g.json -p 'kprobe:ip_rcv*' 
check "collect --stack" $R collect -p tp:net:netif_receive_skb/stack --duration 1 -o /tmp/f.json
# nft verdicts (netlink, timed on arrival: 6.1 has no sock:sk_data_ready) and ct (nf_conn from
# module BTF) in one series with the drop they caused.
nft_ct() {
  ip netns add ka && ip netns add kb && ip -n ka link add va type veth peer name vb netns kb &&
  ip -n ka addr add 10.9.0.1/24 dev va && ip -n kb addr add 10.9.0.2/24 dev vb &&
  ip -n ka link set va up && ip -n kb link set vb up && ip -n ka link set lo up &&
  printf 'table inet f {\n chain i {\n type filter hook input priority 0;\n ct state new ct mark set 7\n udp dport 9999 drop\n }\n}\n' | ip netns exec kb nft -f - &&
  $R collect -c nft,ct,skb-drop,skb,skb-tracking,dev,ns --allow-system-changes -o /tmp/n.json \
    --cmd 'ip netns exec ka bash -c "echo x > /dev/udp/10.9.0.2/9999"; sleep 1' >/dev/null 2>&1 &&
  $R sort /tmp/n.json > /tmp/n.txt &&
  awk -v RS= '/verdict drop/ && /NETFILTER_DROP/ && /ct_state NEW udp/ && /mark 0x7/ {found=1} END {exit !found}' /tmp/n.txt &&
  ! ip netns exec kb nft list tables | grep -q retrace_nftrace
}
check "nft verdict + ct in the drop's series (modules)" nft_ct
# With kprobes the verdict comes from kprobe:__nft_trace_packet (retis's way), with table and
# chain handles, in the same record as the packet's tracking id.
check "nft via kprobe:__nft_trace_packet" sh -c "grep -q '\"symbol\":\"__nft_trace_packet\",\"probe_type\":\"kprobe\"' /tmp/n.json && grep -q '\"nft\":{\"table_name\":\"f\",\"chain_name\":\"i\",\"verdict\":\"drop\",\"table_handle\":[0-9]*,\"chain_handle\":[0-9]*,\"rule_handle\":[0-9]*,\"policy\":false,\"family\":\"inet\"}' /tmp/n.json"
check "nft-dropmon profile (retis) runs" sh -c "$R -P e2e/fixtures/retis-profiles -p nft-dropmon collect --allow-system-changes --duration 1 -o /tmp/p.json >/dev/null 2>&1"
# Many kprobes at once (kprobe-multi where the kernel has it, else one kprobe each): how long
# attaching takes is reported.
many() {
  $R collect -p 'kprobe:*skb*' --duration 1 -o /tmp/m.json >/tmp/m.txt 2>&1 || return 1
  n=$(sed -n 's/^\([0-9]*\) probe(s) attached in \([0-9]*\) ms.*/\1/p' /tmp/m.txt)
  [ "${n:-0}" -ge 100 ]
}
check "100+ kprobes (kprobe:*skb*) attach" many
grep -h 'attached in\|^note:' /tmp/m.txt | sed 's/^/KLAB INFO /' 
# skb-tracking with retis's freeing points (kprobes skb_free_head, kfree_skb_partial): a TCP
# transfer's packets are freed where no tracepoint sees them (__kfree_skb after a read); none
# stays followed at exit.
tcp_free() {
  $R collect -c skb-tracking,skb -f 'tcp port 5555' -p tp:net:netif_receive_skb -o /tmp/t.json --cmd \
    "python3 -c 'import socket,threading,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((\"127.0.0.1\",5555)); s.listen()
def srv():
  c,_=s.accept()
  while c.recv(65536): pass
  c.close()
t=threading.Thread(target=srv); t.start()
c=socket.create_connection((\"127.0.0.1\",5555)); c.sendall(b\"x\"*2000000); c.shutdown(socket.SHUT_WR)
while c.recv(65536): pass
c.close(); t.join(); s.close(); time.sleep(2)'" >/tmp/t.txt 2>&1 || return 1
  left=$(sed -n 's/^ *\([0-9]*\) packet(s) still followed at exit.*/\1/p' /tmp/t.txt)
  series=$(grep -o '"orig_head":[0-9]*,"timestamp":[0-9]*' /tmp/t.json | sort -u | wc -l)
  # The connection is closed on both sides and quiet for 2 s before tracing stops. Without the
  # kprobe freeing points about half the series stay followed (11 of 25 on a kernel without
  # kprobes); with them, runs under emulation leave 0 to 9 of ~90 (why any: not explained yet),
  # so at most one in eight may be left.
  [ "$series" -gt 10 ] && [ $(( ${left:-0} * 8 )) -le "$series" ]
}
check "skb-tracking frees with kprobe freeing points (at most 1 in 8 series left followed)" tcp_free
echo "KLAB INFO TCP 2 MB over lo: $(grep -c . /tmp/t.json) events, $(sed -n 's/^ *\([0-9]*\) packet(s) still followed.*/\1/p' /tmp/t.txt | grep . || echo 0) packet(s) still followed at exit"
# OVS: Debian's ovs-vswitchd on the openvswitch kernel datapath. A flow miss upcalls; the
# events show the upcall (command, handler port, CPU, datapath, in port), its enqueue and
# return, and the actions the datapath then executes.
. "$(dirname "$0")/ovs-lab.sh"
ovs_miss() {
  ovs-dpctl del-flows 2>/dev/null
  $R collect -c ovs,skb,skb-tracking,dev --ovs-track -f 'icmp' -p tp:net:netif_receive_skb -o /tmp/o.json \
    --cmd 'ip netns exec o1 ping -c 1 -W 2 10.7.0.2 >/dev/null' >/tmp/o.txt 2>&1 || { cat /tmp/o.txt; return 1; }
  $R sort /tmp/o.json > /tmp/o-sorted.txt &&
  grep -q 'has no USDT probes' /tmp/o.txt &&
  grep -q 'ovs upcall miss port [0-9]* cpu [0-9]* in_port [0-9]* .*dp ovs-system' /tmp/o-sorted.txt &&
  grep -q 'ovs upcall_enqueue miss port [0-9]* ret 0 q 0x' /tmp/o-sorted.txt &&
  grep -q 'ovs upcall_return ret 0' /tmp/o-sorted.txt &&
  grep -q 'ovs action_execute output [0-9]* ' /tmp/o-sorted.txt
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
  awk -v RS= '/ovs upcall miss/ && /ovs upcall_enqueue/ && /dpif_recv:recv_upcall/ && /flow_operation exec/ &&
    /ovs action_execute output [0-9]* in_port [0-9]* recirc 0x0 q 0x/ && /if [0-9]* \(e2\)/ {n++; if (/flow_operation put/) p++}
    END {exit !(n == 2 && p == 1)}' /tmp/u-sorted.txt ||
  { awk -v RS= '{s=""; n=split($0, l, "\n"); for (i=1;i<=n;i++) if (l[i] ~ /ovs [a-z_]+|\[u\]/) {match(l[i], /ovs [a-z_]+( put| exec)?|\[u\] [^ ]+/); s=s " " substr(l[i], RSTART, RLENGTH)} print "series:" s}' /tmp/u-sorted.txt | tail -3; return 1; }
}
if ovs_up >/tmp/ovs-up.txt 2>&1; then
  check "ovs: a flow miss upcall and its actions (real ovs-vswitchd)" ovs_miss
  check "ovs: --ovs-track follows the upcall through ovs-vswitchd's USDT probes and back" ovs_track
else
  echo "KLAB FAIL ovs setup: $(tail -3 /tmp/ovs-up.txt)"; bad=$((bad+1))
fi
ovs_down
echo "KLAB RESULT $ok passed, $bad failed"
