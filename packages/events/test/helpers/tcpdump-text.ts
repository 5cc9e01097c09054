// Pulls the header fields out of `tcpdump -tt -nn -e -v -S` text, packet by packet, so that tests
// can compare them with what our parser reports.

export interface Endpoints {
  src: string;
  dst: string;
  sport?: number;
  dport?: number;
}

export interface TcpdumpPacket {
  text: string;
  macs: [string, string][];
  vlans: { vid: number; pcp: number }[];
  ipv4: {
    tos: number;
    ttl?: number;
    id: number;
    offset: number;
    df: boolean;
    mf: boolean;
    proto: number;
    length: number;
  }[];
  ipv6: { tc: number; flow: number; hlim: number; next: number; payloadLen: number }[];
  endpoints: Endpoints[];
  arp: { op: 'request' | 'reply'; a: string; b: string }[];
  tcp: { flags: string; seq?: number; ack?: number; win?: number }[];
  echo: { reply: boolean; id: number; seq: number }[];
}

const MAC = '[0-9a-f]{2}(?::[0-9a-f]{2}){5}';
const TS_LINE = /^\d+\.\d{6} /;

/** One string per packet; keeps the header lines, drops decoded application payload lines. */
export function splitPackets(out: string): string[] {
  const packets: string[][] = [];
  for (const line of out.split('\n')) {
    if (TS_LINE.test(line)) packets.push([line]);
    else if (/^ {4}\S/.test(line) || new RegExp(`^\\t?${MAC} > `).test(line)) packets.at(-1)?.push(line);
  }
  return packets.map((p) => p.join('\n'));
}

function splitAddr(s: string): { addr: string; port?: number } {
  const i = s.lastIndexOf('.');
  if (s.includes(':'))
    return i > s.lastIndexOf(':') ? { addr: s.slice(0, i), port: Number(s.slice(i + 1)) } : { addr: s };
  const parts = s.split('.');
  return parts.length === 5 ? { addr: parts.slice(0, 4).join('.'), port: Number(parts[4]) } : { addr: s };
}

const all = (re: RegExp, text: string): RegExpExecArray[] => [...text.matchAll(re)];

export function parseTcpdumpPacket(text: string): TcpdumpPacket {
  const endpoints: Endpoints[] = [];
  for (const m of all(/(?:^|\s)([0-9a-f:.]+) > ([0-9a-f:.]+):(?=\s)/gm, text)) {
    const [a = '', b = ''] = [m[1], m[2]];
    const prev = endpoints.at(-1);
    if (/^\d+$/.test(a) && /^\d+$/.test(b) && prev) {
      // `RT6 (...) 5645 > 5642: UDP`: ports printed apart from the addresses
      prev.sport = Number(a);
      prev.dport = Number(b);
      continue;
    }
    const s = splitAddr(a);
    const d = splitAddr(b);
    const e: Endpoints = { src: s.addr, dst: d.addr };
    if (s.port !== undefined) e.sport = s.port;
    if (d.port !== undefined) e.dport = d.port;
    endpoints.push(e);
  }
  return {
    text,
    macs: all(new RegExp(`(${MAC}) > (${MAC}), (?:ethertype|802\\.3)`, 'g'), text).map((m) => [m[1] ?? '', m[2] ?? '']),
    vlans: all(/vlan (\d+), p (\d+)/g, text).map((m) => ({ vid: Number(m[1]), pcp: Number(m[2]) })),
    ipv4: all(
      /\(tos (0x[0-9a-f]+)(?:,[A-Z]+(?:\(\d\))?)?,(?: ttl (\d+),)? id (\d+), offset (\d+), flags \[([^\]]*)\], proto \S+ \((\d+)\), length (\d+)/g,
      text,
    ).map((m) => ({
      tos: Number(m[1]),
      ...(m[2] === undefined ? {} : { ttl: Number(m[2]) }),
      id: Number(m[3]),
      offset: Number(m[4]),
      df: (m[5] ?? '').includes('DF'),
      mf: (m[5] ?? '').includes('+'),
      proto: Number(m[6]),
      length: Number(m[7]),
    })),
    ipv6: all(
      /\((?:class (0x[0-9a-f]+), )?(?:flowlabel (0x[0-9a-f]+), )?hlim (\d+), next-header \S+ \((\d+)\) payload length: (\d+)\)/g,
      text,
    ).map((m) => ({
      tc: Number(m[1] ?? 0),
      flow: Number(m[2] ?? 0),
      hlim: Number(m[3]),
      next: Number(m[4]),
      payloadLen: Number(m[5]),
    })),
    endpoints,
    arp: [
      ...all(/Request who-has (\d+\.\d+\.\d+\.\d+)(?: \([0-9a-f:]+\))? tell (\d+\.\d+\.\d+\.\d+)/g, text).map((m) => ({
        op: 'request' as const,
        a: m[1] ?? '',
        b: m[2] ?? '',
      })),
      ...all(new RegExp(`Reply (\\d+\\.\\d+\\.\\d+\\.\\d+) is-at (${MAC})`, 'g'), text).map((m) => ({
        op: 'reply' as const,
        a: m[1] ?? '',
        b: m[2] ?? '',
      })),
    ],
    tcp: all(
      /> \S+: Flags \[([^\]]+)\](?:, cksum 0x[0-9a-f]+ \([^)]*\))?(?:, seq (\d+)(?::\d+)?)?(?:, ack (\d+))?(?:, win (\d+))?/g,
      text,
    ).map((m) => ({
      flags: m[1] ?? '',
      ...(m[2] === undefined ? {} : { seq: Number(m[2]) }),
      ...(m[3] === undefined ? {} : { ack: Number(m[3]) }),
      ...(m[4] === undefined ? {} : { win: Number(m[4]) }),
    })),
    echo: all(/ICMP6?,? echo (request|reply), id (\d+), seq (\d+)/g, text).map((m) => ({
      reply: m[1] === 'reply',
      id: Number(m[2]),
      seq: Number(m[3]),
    })),
  };
}
