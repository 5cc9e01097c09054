// nft verdicts on kernels without kprobes and without sock:sk_data_ready: trace messages are
// read from the sockets and timed on arrival; they must still land in their packet's series.
import { TracingSession } from '@retrace/agent';
import { Netns } from '@retrace/e2e';
import { trackingId, type Event } from '@retrace/events';

test('arrival-timed verdicts join the series of the packet they dropped', () => {
  const a = Netns.create('nfta');
  const b = Netns.create('nftb');
  const events: Event[] = [];
  const bInode = b.inode;
  try {
    a.ip('link', 'add', 'na', 'type', 'veth', 'peer', 'name', 'nb', 'netns', b.name);
    a.ip('addr', 'add', '10.77.0.1/24', 'dev', 'na');
    b.ip('addr', 'add', '10.77.0.2/24', 'dev', 'nb');
    a.ip('link', 'set', 'na', 'up');
    b.ip('link', 'set', 'nb', 'up');
    b.nft('table inet f {\n chain i {\n type filter hook input priority 0;\n udp dport 9999 drop\n }\n}\n');
    const session = TracingSession.start({
      collectors: ['nft,skb-drop'],
      probes: ['tp:net:netif_receive_skb'],
      allowSystemChanges: true,
      nftTiming: 'arrival',
      onEvent: (ev) => events.push(ev),
    });
    try {
      for (let i = 0; i < 3; i++) a.sendUdp('10.77.0.2', 9999, `x${i}`);
      session.drain();
      // Messages arrive on the event loop; read what the sockets hold before stopping.
    } finally {
      session.stop();
    }
  } finally {
    a.destroy();
    b.destroy();
  }
  const verdicts = events.filter((e) => e.nft?.verdict === 'drop' && e.nft.table_name === 'f');
  const drops = events.filter((e) => e['skb-drop']?.drop_reason === 'NETFILTER_DROP' && e.netns?.inum === bInode);
  expect(verdicts.length).toBe(3);
  expect(drops.length).toBe(3);
  const dropIds = new Set(drops.map((e) => trackingId(e['skb-tracking'] as NonNullable<Event['skb-tracking']>)));
  for (const v of verdicts) {
    expect(v.kernel?.probe_type).toBe('netlink');
    expect(dropIds.has(trackingId(v['skb-tracking'] as NonNullable<Event['skb-tracking']>))).toBe(true);
  }
  // Three different packets, three different series.
  expect(new Set(verdicts.map((v) => trackingId(v['skb-tracking'] as NonNullable<Event['skb-tracking']>))).size).toBe(
    3,
  );
});
