// A packet stays one series through VXLAN encapsulation and decapsulation.
import { runRetrace, vxlanLab } from '@retrace/e2e';
import { parsePacketBase64, trackingId } from '@retrace/events';
import { readSeries, tempDir } from './helpers.js';

const tmp = tempDir();

afterAll(() => tmp.remove());

test('an overlay ping is followed from the inner packet, through the outer UDP/4789 one, to the inner packet again', () => {
  const lab = vxlanLab('vx');
  try {
    const out = `${tmp.dir}/vx.json`;
    const cmd = `ip netns exec ${lab.a.name} ping -c 1 -W 1 ${lab.overlayB} >/dev/null`;
    expect(runRetrace(['collect', '-c', 'skb,skb-tracking,dev,ns', '--cmd', cmd, '-o', out]).code).toBe(0);
    expect(runRetrace(['sort', out, '-o', `${tmp.dir}/sorted.json`]).code).toBe(0);
    const series = readSeries(`${tmp.dir}/sorted.json`).find((s) => {
      const p = s[0]?.packet ? parsePacketBase64(s[0].packet.data) : undefined;
      return s[0]?.netns?.inum === lab.a.inode && p?.ip?.dst === lab.overlayB && p.l4?.proto === 'icmp';
    });
    expect(series).toBeDefined();
    const hops = (series ?? []).map((e) => {
      const p = parsePacketBase64(e.packet?.data ?? '');
      return {
        where: `${e.kernel?.symbol}@${e.dev?.name}`,
        outer: p.ip?.dst,
        inner: p.inner?.ip?.dst,
        vni: p.tunnel?.vni,
      };
    });
    expect(hops).toEqual([
      { where: 'net:net_dev_start_xmit@vx0', outer: lab.overlayB, inner: undefined, vni: undefined },
      { where: 'net:net_dev_start_xmit@va', outer: lab.underlayB, inner: lab.overlayB, vni: 42 },
      { where: 'net:netif_receive_skb@vb', outer: lab.underlayB, inner: lab.overlayB, vni: 42 },
      { where: 'net:netif_receive_skb@vx0', outer: lab.overlayB, inner: undefined, vni: undefined },
    ]);
    expect(new Set(series?.map((e) => e['skb-tracking'] && trackingId(e['skb-tracking']))).size).toBe(1);
  } finally {
    lab.destroy();
  }
});
