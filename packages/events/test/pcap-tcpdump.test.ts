// Our packet parser against tcpdump on real captures from tcpdump's test suite: same MACs, VLAN
// tags, IP headers, addresses, ports, TCP flags/seq/ack/win and ICMP echo ids for every packet.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatPacket, parsePacket, tcpFlagsText, type ParsedPacket } from '../src/index.js';
import { LINKTYPE_ETHERNET, readCapture } from '../src/capture-reader.js';
import { parseTcpdumpPacket, splitPackets, type TcpdumpPacket } from './helpers/tcpdump-text.js';

const DIR = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'pcap');
const FILES = readdirSync(DIR)
  .filter((f) => f.endsWith('.pcap'))
  .sort();
const TRUNCATED = new Set(['ip_ts_opts_asan.pcap']); // snaplen 50 cuts the IPv4 options

let live: boolean | undefined;
/** tcpdump's own output when tcpdump is installed, else the one recorded next to the capture. */
function tcpdump(file: string): string {
  if (live !== false) {
    try {
      const out = execFileSync('tcpdump', ['-tt', '-nn', '-e', '-v', '-S', '-r', join(DIR, file)], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      live = true;
      return out;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      live = false;
    }
  }
  return readFileSync(join(DIR, `${file}.tcpdump.txt`), 'utf8');
}

function chain(p: ParsedPacket): ParsedPacket[] {
  const out: ParsedPacket[] = [];
  for (let q: ParsedPacket | undefined = p; q; q = q.inner) out.push(q);
  return out;
}

/** Our view in tcpdump's terms. */
function ours(p: ParsedPacket): Omit<TcpdumpPacket, 'text'> {
  const c = chain(p);
  return {
    macs: c.flatMap((q) => (q.eth ? [[q.eth.src, q.eth.dst] as [string, string]] : [])),
    vlans: c.flatMap((q) => q.vlans.map((v) => ({ vid: v.vid, pcp: v.pcp }))),
    ipv4: c.flatMap((q) =>
      q.ip?.version === 4
        ? [
            {
              tos: q.ip.tos,
              ttl: q.ip.ttl,
              id: q.ip.id,
              offset: q.ip.fragOffset,
              df: q.ip.df,
              mf: q.ip.mf,
              proto: q.ip.proto,
              length: q.ip.totalLen,
            },
          ]
        : [],
    ),
    ipv6: c.flatMap((q) =>
      q.ip?.version === 6
        ? [
            {
              tc: q.ip.trafficClass,
              flow: q.ip.flowLabel,
              hlim: q.ip.ttl,
              next: q.ip.nextHeader,
              payloadLen: q.ip.payloadLen,
            },
          ]
        : [],
    ),
    endpoints: c.flatMap((q) => {
      if (!q.ip) return [];
      const l4 = q.l4;
      const ports = l4 && (l4.proto === 'tcp' || l4.proto === 'udp') ? { sport: l4.sport, dport: l4.dport } : {};
      return [{ src: q.ip.src, dst: q.ip.dst, ...ports }];
    }),
    arp: c.flatMap((q): TcpdumpPacket['arp'] => {
      const a = q.arp;
      if (a?.op === 1) return [{ op: 'request', a: a.targetIp ?? '', b: a.senderIp ?? '' }];
      if (a?.op === 2) return [{ op: 'reply', a: a.senderIp ?? '', b: a.senderMac ?? '' }];
      return [];
    }),
    tcp: c.flatMap((q) =>
      q.l4?.proto === 'tcp'
        ? [{ flags: tcpFlagsText(q.l4.flags), seq: q.l4.seq, ack: q.l4.ack, win: q.l4.window }]
        : [],
    ),
    echo: c.flatMap((q) => {
      const l4 = q.l4;
      if (!l4 || (l4.proto !== 'icmp' && l4.proto !== 'icmpv6') || l4.id === undefined) return [];
      if (![0, 8, 128, 129].includes(l4.type)) return [];
      return [{ reply: l4.type === 0 || l4.type === 129, id: l4.id, seq: l4.seq ?? -1 }];
    }),
  };
}

let compared = 0;

test('the AccECN AE bit is shown as `e`, as tcpdump 4.99.5+ prints it (tests/accecn_handshake.out)', () => {
  const packets = readCapture(readFileSync(join(DIR, 'accecn_handshake.pcap')));
  const flags = packets.slice(0, 4).map((p) => {
    const l4 = parsePacket(p.data).l4;
    return l4?.proto === 'tcp' ? tcpFlagsText(l4.flags) : '';
  });
  expect(flags).toEqual(['SEWe', 'S.W', '.W', 'P.Ee']);
});

test.each(FILES)('%s: layers match tcpdump -nn -e -v', (file) => {
  const packets = readCapture(readFileSync(join(DIR, file)));
  expect(packets.every((p) => p.linkType === LINKTYPE_ETHERNET)).toBe(true);
  const texts = splitPackets(tcpdump(file));
  expect(texts).toHaveLength(packets.length);
  packets.forEach((pkt, i) => {
    const parsed = parsePacket(pkt.data);
    const theirs = parseTcpdumpPacket(texts[i] ?? '');
    const mine = ours(parsed);
    const l4 = chain(parsed).at(-1)?.l4;
    if (l4?.proto === 'icmp' && [3, 4, 5, 11, 12].includes(l4.type)) {
      // tcpdump also decodes the packet quoted in an ICMP error; we stop at the ICMP header.
      theirs.endpoints = theirs.endpoints.slice(0, mine.endpoints.length);
      theirs.ipv4 = theirs.ipv4.slice(0, mine.ipv4.length);
      theirs.echo = theirs.echo.slice(0, mine.echo.length);
    }
    if (!theirs.tcp.some((t) => t.flags.includes('e'))) {
      // tcpdump 4.99.3 does not print the AccECN AE bit; later ones print `e` as we do (below).
      for (const t of mine.tcp) t.flags = t.flags.replace('e', '') || 'none';
    }
    const where = `${file} packet ${i + 1}:\n${theirs.text}\n${formatPacket(parsed, { link: true })}`;
    expect({ where, v: mine.macs }).toEqual({ where, v: theirs.macs });
    expect({ where, v: mine.vlans }).toEqual({ where, v: theirs.vlans });
    expect({ where, v: mine.endpoints }).toEqual({ where, v: theirs.endpoints });
    expect({ where, v: mine.arp }).toEqual({ where, v: theirs.arp });
    expect({ where, v: mine.echo }).toEqual({ where, v: theirs.echo });
    expect({ where, v: mine.ipv6 }).toEqual({ where, v: theirs.ipv6 });
    // tcpdump leaves out a zero ttl, a seq on pure ACKs, an ack without the ACK flag.
    const v4 = theirs.ipv4.map((h, j) => ({ ...mine.ipv4[j], ...(h.ttl === undefined ? { ttl: undefined } : {}) }));
    expect({ where, v: v4.map((h) => JSON.stringify(h)) }).toEqual({
      where,
      v: theirs.ipv4.map((h) => JSON.stringify({ ...h, ttl: h.ttl })),
    });
    expect({ where, n: mine.tcp.length }).toEqual({ where, n: theirs.tcp.length });
    theirs.tcp.forEach((t, j) => {
      const m = mine.tcp[j];
      expect({ where, v: { flags: m?.flags, seq: t.seq && m?.seq, ack: t.ack && m?.ack, win: m?.win } }).toEqual({
        where,
        v: { flags: t.flags, seq: t.seq, ack: t.ack, win: t.win },
      });
    });
    // The one-line text shows the endpoints in tcpdump's notation, and the cut header.
    const line = formatPacket(parsed);
    for (const e of theirs.endpoints) {
      const fmt = (a: string, p?: number): string => (p === undefined ? a : `${a}.${p}`);
      expect(line).toContain(`${fmt(e.src, e.sport)} > ${fmt(e.dst, e.dport)}`);
    }
    expect({ where, truncated: parsed.truncated }).toEqual({ where, truncated: TRUNCATED.has(file) });
    if (TRUNCATED.has(file)) expect(line).toMatch(/\[truncated\]$/);
    compared++;
  });
});

afterAll(() => {
  // 15 captures, 56 packets: the count guards against a regex that silently matches nothing.
  expect(compared).toBeGreaterThanOrEqual(50);
  console.log(`compared ${compared} packets of ${FILES.length} captures with ${live ? 'live' : 'recorded'} tcpdump`);
});
