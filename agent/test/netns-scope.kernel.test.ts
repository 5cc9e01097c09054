// Namespace scoping in the kernel (SessionOptions.netns, setNetns): a scoped session reports
// and counts only packets in its namespaces, and a packet crossing a namespace out of scope
// keeps its tracking id. Real kernel, real namespaces: client -- router -- server.
import { TracingSession } from '@retrace/agent';
import { routedLab, waitFor, type RoutedLab } from '@retrace/e2e';
import { eventPacket, trackingId, type Event } from '@retrace/events';

const PROBES = ['tp:net:netif_receive_skb', 'tp:net:net_dev_start_xmit'];
const COLLECTORS = ['skb,skb-tracking,dev,ns'];

let lab: RoutedLab;
let inode: { client: number; router: number; server: number };

beforeAll(() => {
  lab = routedLab('scope');
  inode = { client: lab.client.inode, router: lab.router.inode, server: lab.server.inode };
});

afterAll(() => {
  lab?.destroy();
});

/** UDP destination port of an event's packet (undefined: not UDP, or no packet). */
function udpPort(ev: Event): number | undefined {
  const l4 = eventPacket(ev)?.l4;
  return l4?.proto === 'udp' ? l4.dport : undefined;
}

const inum = (ev: Event): number | undefined => ev.netns?.inum;
const symbol = (ev: Event): string => ev.kernel?.symbol ?? '';

/**
 * Sends, from the client to the server (crossing the router) and from the router to the client,
 * one datagram each to `port` (the server answers port unreachable, through the router).
 */
function traffic(port: number): void {
  lab.client.sendUdp(lab.serverIp, port, `c2s-${port}`);
  lab.router.sendUdp(lab.clientIp, port, `r2c-${port}`);
}

/** Drains until pred holds on what arrived, then a little longer so stray events would show too. */
async function collect(session: TracingSession, events: Event[], pred: () => boolean, what: string): Promise<void> {
  await waitFor(
    () => {
      session.drain();
      return pred();
    },
    what,
    5000,
  );
  await new Promise((r) => setTimeout(r, 200));
  session.drain();
}

test('a scoped session sees only its namespaces, setNetns moves the scope, counters agree', async () => {
  const events: Event[] = [];
  const session = TracingSession.start({
    collectors: COLLECTORS,
    probes: PROBES,
    netns: [inode.client],
    onEvent: (ev) => events.push(ev),
  });
  let final;
  const phases: Record<string, Event[]> = {};
  try {
    // Scope: the client only. Its datagram leaves through c0; the router's arrives on c0.
    traffic(9991);
    await collect(
      session,
      events,
      () =>
        events.some((e) => udpPort(e) === 9991 && symbol(e) === 'net:net_dev_start_xmit') &&
        events.some((e) => udpPort(e) === 9991 && symbol(e) === 'net:netif_receive_skb'),
      'the client sending and receiving port 9991',
    );
    phases['client'] = events.splice(0);
    let c = session.counts();
    expect(c.lost).toBe(0);
    // Router and server saw these packets too (4 more hits at least): none was counted.
    expect(c.hits).toBeLessThanOrEqual(phases['client'].length);

    // Scope: the server only.
    session.setNetns([inode.server]);
    traffic(9992);
    await collect(
      session,
      events,
      () => events.some((e) => udpPort(e) === 9992 && symbol(e) === 'net:netif_receive_skb'),
      'the server receiving port 9992',
    );
    phases['server'] = events.splice(0);

    // Scope: client and server; the router between them is out of scope, and the datagram
    // keeps its tracking id across it.
    session.setNetns([inode.client, inode.server, inode.client]);
    traffic(9993);
    await collect(
      session,
      events,
      () =>
        events.some((e) => udpPort(e) === 9993 && inum(e) === inode.client) &&
        events.some((e) => udpPort(e) === 9993 && inum(e) === inode.server),
      'port 9993 in the client and the server',
    );
    phases['both'] = events.splice(0);

    // Scope: empty. Nothing is reported or counted.
    const before = session.counts().hits;
    session.setNetns([]);
    traffic(9994);
    await new Promise((r) => setTimeout(r, 300));
    session.drain();
    phases['none'] = events.splice(0);
    c = session.counts();
    expect(c.hits).toBe(before);
  } finally {
    final = session.stop();
  }

  const client = phases['client'] ?? [];
  const server = phases['server'] ?? [];
  const both = phases['both'] ?? [];
  expect(client.length).toBeGreaterThan(0);
  expect(client.every((e) => inum(e) === inode.client)).toBe(true);
  expect(client.every((e) => e.dev?.name === 'c0' || e.dev?.name === 'lo')).toBe(true);

  expect(server.length).toBeGreaterThan(0);
  expect(server.every((e) => inum(e) === inode.server)).toBe(true);
  expect(server.some((e) => udpPort(e) === 9992)).toBe(true);
  // Nothing of port 9992 from elsewhere (the client sent it, the router forwarded it).
  expect(server.filter((e) => udpPort(e) === 9992).every((e) => e.dev?.name === 's0')).toBe(true);

  expect(both.every((e) => inum(e) === inode.client || inum(e) === inode.server)).toBe(true);
  expect(both.some((e) => inum(e) === inode.router)).toBe(false);
  const sent = both.find(
    (e) => udpPort(e) === 9993 && inum(e) === inode.client && symbol(e) === 'net:net_dev_start_xmit',
  );
  const arrived = both.find(
    (e) => udpPort(e) === 9993 && inum(e) === inode.server && symbol(e) === 'net:netif_receive_skb',
  );
  expect(sent?.['skb-tracking']).toBeDefined();
  expect(arrived?.['skb-tracking']).toBeDefined();
  if (sent?.['skb-tracking'] && arrived?.['skb-tracking'])
    expect(trackingId(arrived['skb-tracking'])).toBe(trackingId(sent['skb-tracking']));

  expect(phases['none']).toEqual([]);

  // Over the whole session: every hit counted was delivered, nothing else.
  const delivered = client.length + server.length + both.length;
  expect(final.lost).toBe(0);
  expect(final.delivered).toBe(delivered);
  expect(final.hits).toBe(delivered);
});

test('without netns the session sees every namespace; setNetns needs a scoped session', async () => {
  const events: Event[] = [];
  const session = TracingSession.start({
    collectors: COLLECTORS,
    probes: PROBES,
    onEvent: (ev) => events.push(ev),
  });
  try {
    expect(() => session.setNetns([inode.client])).toThrow(/without netns scoping/);
    traffic(9995);
    const seen = (ns: number): boolean => events.some((e) => udpPort(e) === 9995 && inum(e) === ns);
    await collect(
      session,
      events,
      () => seen(inode.client) && seen(inode.router) && seen(inode.server),
      'port 9995 in all three namespaces',
    );
  } finally {
    session.stop();
  }
  const mine = events.filter((e) => udpPort(e) === 9995);
  expect(new Set(mine.map(inum))).toEqual(new Set([inode.client, inode.router, inode.server]));
});

test('netns entries must be namespace inode numbers', () => {
  expect(() => TracingSession.start({ collectors: COLLECTORS, probes: PROBES, netns: [-1] })).toThrow(RangeError);
  expect(() => TracingSession.start({ collectors: COLLECTORS, probes: PROBES, netns: [1.5] })).toThrow(RangeError);
});
