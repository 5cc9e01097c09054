// The ct collector on a NATing router: the conntrack entry each packet carries, as the kernel sees
// it at that point (state, protocol state, both tuples with the NAT translation, status), an ICMP
// error as RELATED to the flow it is about, and an expected connection with its parent.
import { routedLab, runRetrace, startCollect, type RoutedLab } from '@retrace/e2e';
import { formatEvent, type Ct, type Event } from '@retrace/events';
import { expectNothingLoaded, hop, readEvents, tcpExchange, tempDir, startServers, serversReady } from './helpers.js';

let lab: RoutedLab;
let events: Event[];
const tmp = tempDir();
const out = `${tmp.dir}/events.json`;

/** Events at this probe and device whose packet matches, in file order. */
function at(symbol: string, dev: string, match: (h: NonNullable<ReturnType<typeof hop>>) => boolean): Event[] {
  return events.filter((e) => {
    const h = hop(e);
    return h && h.symbol === symbol && h.dev === dev && match(h);
  });
}

beforeAll(async () => {
  lab = routedLab('ct', {
    masquerade: true,
    dnat: [
      { proto: 'tcp', from: 8080, to: 8000 },
      // Nothing listens on 5354: the server answers with an ICMP port unreachable.
      { proto: 'udp', from: 8054, to: 5354 },
    ],
  });
  // The server expects a connection back to the client on TCP 9000 for every new connection
  // to 8000 (an nft ct expectation, like a helper for active FTP would create).
  lab.server.nft(`table ip rtct {
    ct expectation back { protocol tcp; dport 9000; timeout 1m; size 4; l3proto ip; }
    chain input { type filter hook input priority 0; policy accept; ct state new tcp dport 8000 ct expectation set "back"; }
    chain output { type filter hook output priority 0; policy accept; ct state related counter; }
  }`);
  const servers = startServers(lab.server, 5353, 8000);
  try {
    await serversReady(servers);
    const c = startCollect(['-c', 'ct,skb,skb-tracking,dev,ns', '-p', 'tp:net:net_dev_start_xmit', '-o', out]);
    await c.ready;
    tcpExchange(lab.client, lab.routerClientIp, 8080);
    lab.client.sendUdp(lab.routerClientIp, 8054, 'no-one-listens');
    // The expected connection: from the server to the router's address (the masqueraded client).
    lab.server.exec(['timeout', '2', 'bash', '-c', `exec 3<>/dev/tcp/${lab.routerServerIp}/9000 || true`]);
    await new Promise((r) => setTimeout(r, 300));
    const r = await c.stop('SIGINT');
    expect(r.code).toBe(0);
    events = readEvents(out);
  } finally {
    servers.kill();
  }
});

afterAll(() => {
  lab?.destroy();
  tmp.remove();
});

test('a forwarded TCP SYN is NEW, SYN_SENT, and its reply tuple shows DNAT and masquerade', () => {
  const [syn] = at('net:net_dev_start_xmit', 'r1', (h) => h.proto === 'tcp' && h.dport === 8000);
  const ct = syn?.ct as Ct;
  expect(ct).toBeDefined();
  expect(ct.state).toBe('new');
  expect(ct.tcp_state).toBe('SYN_SENT');
  expect(ct.orig).toMatchObject({
    ip: { src: lab.clientIp, dst: lab.routerClientIp },
    proto: { tcp: { dport: 8080 } },
  });
  // The reply comes from the real server port to the router's masquerading address.
  expect(ct.reply).toMatchObject({
    ip: { src: lab.serverIp, dst: lab.routerServerIp },
    proto: { tcp: { sport: 8000 } },
  });
  expect(ct.zone_id).toBe(0);
  // SRC_NAT (bit 4) and DST_NAT (bit 5) are set on the NATed connection.
  expect(ct.ct_status & 0x30n).toBe(0x30n);
  expect(formatEvent(syn as Event)).toMatch(
    new RegExp(
      `ct_state NEW status 0x[0-9a-f]+ tcp \\(SYN_SENT\\) orig \\[${lab.clientIp}\\.\\d+ > ${lab.routerClientIp}\\.8080\\] ` +
        `reply \\[${lab.serverIp}\\.8000 > ${lab.routerServerIp}\\.\\d+\\] zone 0`,
    ),
  );
});

test('the SYN-ACK back to the client is ESTABLISHED_REPLY of the same connection', () => {
  const [synAck] = at('net:net_dev_start_xmit', 'r0', (h) => h.proto === 'tcp' && h.sport === 8080);
  const ct = synAck?.ct as Ct;
  expect(ct.state).toBe('reply');
  expect(ct.tcp_state).toBe('SYN_RECV');
  expect(ct.orig).toMatchObject({ ip: { src: lab.clientIp }, proto: { tcp: { dport: 8080 } } });
});

test('an ICMP port unreachable is RELATED to the UDP flow it is about', () => {
  const [icmp] = at('net:net_dev_start_xmit', 'r0', (h) => h.proto === 'icmp');
  const ct = icmp?.ct as Ct;
  expect(ct).toBeDefined();
  expect(ct.state).toBe('related_reply');
  // The entry is the UDP connection's: its original and (translated) reply tuples.
  expect(ct.orig).toMatchObject({
    ip: { src: lab.clientIp, dst: lab.routerClientIp },
    proto: { udp: { dport: 8054 } },
  });
  expect(ct.reply).toMatchObject({
    ip: { src: lab.serverIp, dst: lab.routerServerIp },
    proto: { udp: { sport: 5354 } },
  });
  expect(formatEvent(icmp as Event)).toMatch(/ct_state RELATED_REPLY status 0x[0-9a-f]+ udp orig \[/);
});

test('an expected connection is RELATED and names its parent connection', () => {
  const [back] = at('net:net_dev_start_xmit', 's0', (h) => h.proto === 'tcp' && h.dport === 9000);
  const ct = back?.ct as Ct;
  expect(ct).toBeDefined();
  expect(ct.state).toBe('related');
  expect(ct.orig).toMatchObject({
    ip: { src: lab.serverIp, dst: lab.routerServerIp },
    proto: { tcp: { dport: 9000 } },
  });
  expect(ct.parent?.orig).toMatchObject({
    ip: { src: lab.routerServerIp, dst: lab.serverIp },
    proto: { tcp: { dport: 8000 } },
  });
  expect(ct.parent?.tcp_state).toMatch(/ESTABLISHED|FIN_WAIT|CLOSE_WAIT|LAST_ACK|TIME_WAIT|CLOSE/);
  expect(formatEvent(back as Event)).toMatch(
    /ct_state RELATED status 0x[0-9a-f]+ tcp \(SYN_SENT\) .*\n {2}\\ parent \[status 0x[0-9a-f]+ tcp \(\w+\) orig \[/,
  );
});

test('packets without a conntrack entry carry no ct section', () => {
  // The client's own namespace runs no conntrack: nothing it sends has an entry.
  const fromClient = at('net:net_dev_start_xmit', 'c0', () => true);
  expect(fromClient.length).toBeGreaterThan(0);
  expect(fromClient.every((e) => e.ct === undefined)).toBe(true);
});

test('the ct section prints and round-trips through print and sort', () => {
  const printed = runRetrace(['print', out]);
  expect(printed.code).toBe(0);
  expect(printed.stdout).toMatch(/ct_state NEW status 0x[0-9a-f]+ tcp \(SYN_SENT\)/);
  const sorted = runRetrace(['sort', out]);
  expect(sorted.code).toBe(0);
  expect(sorted.stdout).toContain('ct_state REPLY');
});

test('nothing of retrace stays loaded after collect exits', async () => {
  await expectNothingLoaded();
});
