// The main job (`./run demo`): a real trace on this machine's kernel. A client, a NATing router
// and a server in network namespaces; `retrace collect` follows a ping, a UDP datagram and a
// datagram the router's nftables drops; `retrace sort` shows each packet's journey.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatSeries, parseLine, type Event } from '@retrace/events';
import { runRetrace } from '../lab/retrace-cli.js';
import { routedLab } from '../lab/topology.js';

export function runJourneyDemo(log: (line: string) => void = console.log): number {
  const lab = routedLab('demo', {
    masquerade: true,
    dnatIcmp: true,
    dnat: [{ proto: 'udp', from: 8053, to: 53 }],
    forwardRules: ['udp dport 9999 drop'],
  });
  const dir = mkdtempSync(join(tmpdir(), 'retrace-demo-'));
  const onSignal = (): void => {
    lab.destroy();
    rmSync(dir, { recursive: true, force: true });
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  try {
    const c = lab.client.name;
    const traffic = [
      `ip netns exec ${c} ping -c 1 -W 1 ${lab.routerClientIp} >/dev/null`,
      `ip netns exec ${c} bash -c 'echo query > /dev/udp/${lab.routerClientIp}/8053'`,
      `ip netns exec ${c} bash -c 'echo blocked > /dev/udp/${lab.serverIp}/9999'`,
      'sleep 0.2',
    ].join('; ');
    log(
      `lab: client ${lab.clientIp} -> router ${lab.routerClientIp} (DNAT to ${lab.serverIp}, masquerade; drops udp/9999) -> server ${lab.serverIp}`,
    );
    const events = join(dir, 'retrace.data');
    const args = ['collect', '-c', 'skb,skb-drop,skb-tracking,dev,ns', '--cmd', traffic, '-o', events];
    log(`$ retrace ${args.map((a) => (/[\s;'>]/.test(a) ? `"${a}"` : a)).join(' ')}`);
    const collect = runRetrace(args);
    process.stderr.write(collect.stderr);
    if (collect.code !== 0) return collect.code ?? 1;
    const sorted = join(dir, 'sorted.json');
    log(`$ retrace sort ${events} -o ${sorted}   (showing the lab's packets)`);
    const sort = runRetrace(['sort', events, '-o', sorted]);
    if (sort.code !== 0) {
      process.stderr.write(sort.stderr);
      return sort.code ?? 1;
    }
    const labNs = new Set([lab.client.inode, lab.router.inode, lab.server.inode]);
    const series = readFileSync(sorted, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => parseLine(l))
      .map((v) => (Array.isArray(v) ? v : [v]))
      .filter((s: Event[]) => s.some((e) => labNs.has(e.netns?.inum ?? 0)) && s.length > 1);
    for (const s of series) log(`\n${formatSeries(s, { format: 'multi-line' })}`);
    const drops = series.flat().filter((e) => e['skb-drop'] && labNs.has(e.netns?.inum ?? 0));
    log(
      `\n${series.length} packet journeys in the lab; drops: ${drops.map((d) => `${d['skb-drop']?.drop_reason} on ${d.dev?.name}`).join(', ') || 'none'}`,
    );
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    lab.destroy();
    rmSync(dir, { recursive: true, force: true });
    log('cleaned up: namespaces and their nft tables removed');
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    process.exitCode = runJourneyDemo();
  } catch (e) {
    console.error(`retrace demo failed: ${(e as Error).message}`);
    process.exitCode = 1;
  }
}
