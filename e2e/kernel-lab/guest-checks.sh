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
echo "KLAB RESULT $ok passed, $bad failed"
