// collect -f: the kernel decides which packets start being followed, and a followed packet stays
// followed after DNAT rewrites the very port the filter matched.
import { routedLab, runRetrace, startCollect, type RoutedLab } from '@retrace/e2e';
import { hop, readSeries, tempDir, type Hop } from './helpers.js';

let lab: RoutedLab;
const tmp = tempDir();

afterAll(() => {
  lab?.destroy();
  tmp.remove();
});

test("-f 'udp port 9999' yields events for that traffic only, still followed after DNAT to port 5353", async () => {
  lab = routedLab('filt', { dnat: [{ proto: 'udp', from: 9999, to: 5353 }], masquerade: true });
  const out = `${tmp.dir}/filtered.json`;
  const c = startCollect(['-c', 'skb,skb-tracking,dev,ns', '-f', 'udp port 9999', '-o', out]);
  await c.ready;
  lab.client.exec(['ping', '-c', '2', '-i', '0.1', lab.routerClientIp]);
  lab.client.sendUdp(lab.routerClientIp, 9998, 'not me');
  lab.client.sendUdp(lab.routerClientIp, 9999, 'me');
  const r = await c.stop('SIGINT');
  expect(r.code).toBe(0);
  expect(r.stderr).toMatch(/packet filter 'udp port 9999': \d+ classic BPF -> \d+ eBPF instructions, L2\+L3/);
  expect(runRetrace(['sort', out, '-o', `${tmp.dir}/sorted.json`]).code).toBe(0);
  const series = readSeries(`${tmp.dir}/sorted.json`).filter((s) => s.some((e) => e.kernel));
  const hops = series
    .flat()
    .map(hop)
    .filter((h): h is Hop => !!h);
  // nothing but our datagram: no ICMP, no port 9998, and no host traffic
  expect(hops.length).toBeGreaterThan(0);
  for (const h of hops) {
    expect(h.proto).toBe('udp');
    expect([9999, 5353]).toContain(h.dport);
  }
  const journey = series.find((s) => s.some((e) => hop(e)?.dport === 9999));
  const path = (journey ?? []).map(hop).map((h) => `${h?.dev}:${h?.dport}`);
  // the port is rewritten on the router, and the packet is still followed to the server
  expect(path).toEqual(['c0:9999', 'r0:9999', 'r1:5353', 's0:5353']);
});
