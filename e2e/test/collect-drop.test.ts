// A drop by an nft rule on the router is reported with NETFILTER_DROP, on the router's
// receiving device and namespace, inside the packet's series.
import { routedLab, runRetrace, startCollect, type RoutedLab } from '@retrace/e2e';
import { trackingId, type Event } from '@retrace/events';
import { hop, readSeries, tempDir } from './helpers.js';

let lab: RoutedLab;
const tmp = tempDir();

afterAll(() => {
  lab?.destroy();
  tmp.remove();
});

test('an nft drop on the router shows as NETFILTER_DROP at r0 in the router namespace, in the packet series', async () => {
  lab = routedLab('drop', { forwardRules: ['udp dport 9999 drop'] });
  const out = `${tmp.dir}/events.json`;
  const c = startCollect(['-c', 'skb,skb-drop,skb-tracking,dev,ns', '-o', out]);
  await c.ready;
  lab.client.sendUdp(lab.serverIp, 9999, 'dropped');
  lab.client.sendUdp(lab.serverIp, 9998, 'passes');
  const r = await c.stop('SIGTERM');
  expect(r.code).toBe(0);
  expect(runRetrace(['sort', out, '-o', `${tmp.dir}/sorted.json`]).code).toBe(0);
  const series = readSeries(`${tmp.dir}/sorted.json`);

  const dropped = series.find((s) => s.some((e) => hop(e)?.dport === 9999 && hop(e)?.netns === lab.client.inode));
  expect(dropped).toBeDefined();
  const events = dropped ?? [];
  const drop = events.find((e: Event) => e['skb-drop']);
  expect(drop?.['skb-drop']?.drop_reason).toBe('NETFILTER_DROP');
  expect(drop?.kernel?.symbol).toBe('skb:kfree_skb');
  expect(drop?.dev?.name).toBe('r0');
  expect(drop?.netns?.inum).toBe(lab.router.inode);
  // one packet, one id: from the client's transmit to the drop
  expect(new Set(events.map((e) => e['skb-tracking'] && trackingId(e['skb-tracking']))).size).toBe(1);
  expect(events[0]?.dev?.name).toBe('c0');
  expect(events[events.length - 1]).toBe(drop);

  const passed = series.find((s) => s.some((e) => hop(e)?.dport === 9998 && hop(e)?.netns === lab.client.inode));
  expect(passed?.some((e) => e['skb-drop']?.drop_reason === 'NETFILTER_DROP')).toBe(false);
  expect(passed?.some((e) => e.dev?.name === 's0')).toBe(true);
});
