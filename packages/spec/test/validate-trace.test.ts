// What is refused in a Trace before any agent sees it, naming the field: the checks the API
// server's schema cannot make. The packet filter is compiled by whoever has libpcap (the agents,
// the CLI): here through a FilterChecker.
import { checkPacketFilter, parseDuration, validateTrace, type FilterChecker, type TraceResource } from '@retrace/spec';

// null: a ClusterTrace. Specs are as a file or an old client may send them (the API server's
// enums not applied): the checks must hold without them.
const trace = (spec: object, namespace: string | null = 'team'): TraceResource => ({
  metadata: { name: 'drops', ...(namespace !== null ? { namespace } : {}) },
  spec: spec as TraceResource['spec'],
});

/** Refuses what libpcap refuses in this test: an expression ending in a keyword. */
const pcapLike: FilterChecker = {
  check: (e) => {
    if (/\b(port|host)$/.test(e)) throw new Error(`invalid packet filter '${e}': syntax error`);
  },
};

test.each([
  [{ packetFilter: 'tcp port' }, /^spec\.packetFilter: invalid packet filter 'tcp port': syntax error$/],
  [{ probes: ['tp:skb:kfree_skb', 'kprobe:a b'] }, /^spec\.probes\[1\]: /],
  [{ collectors: ['skb', 'bogus'] }, /^spec\.collectors\[1\]: unknown collector bogus/],
  [{ metaFilter: 'sk_buff.mark ==' }, /^spec\.metaFilter: /],
  [{ allowSystemChanges: true }, /^spec\.allowSystemChanges: a namespaced Trace may not change the nodes/],
  [{ collectors: ['ovs'] }, /^spec\.collectors\[0\]: the ovs collector sees the whole node/],
  [{ probes: ['usdt:/usr/sbin/ovs-vswitchd:udpif:upcall'] }, /^spec\.probes\[0\]: .*host process/],
  [{ ovsEnrichFlows: true }, /^spec\.ovsEnrichFlows: asking ovs-vswitchd about datapath flows is host-wide/],
  [{ duration: '5 minutes' }, /^spec\.duration: "5 minutes" is not a duration/],
  [{ output: { retention: '1 day' } }, /^spec\.output\.retention: "1 day" is not a duration/],
  [{ nftVerdicts: ['maybe'] }, /^spec\.nftVerdicts: unknown --nft-verdicts maybe/],
  [{ profile: 'drops,nope' }, /^spec\.profile: no profile named 'nope'; available: .*drops/],
])('a namespaced Trace with %j is refused, naming the field', (spec, want) => {
  expect(() => validateTrace(trace(spec), { packetFilter: pcapLike })).toThrow(want);
});

test('without a filter checker (the operator has no libpcap) the packet filter is left to the agents', () => {
  expect(() => validateTrace(trace({ packetFilter: 'tcp port' }))).not.toThrow();
  expect(() => validateTrace(trace({ packetFilter: 'tcp port', duration: 'soon' }))).toThrow(/^spec\.duration: /);
});

test("an agent's refusal of the filter names the field and keeps the checker's words", () => {
  expect(() => checkPacketFilter('udp', pcapLike)).not.toThrow();
  expect(() => checkPacketFilter('host', pcapLike)).toThrow(
    "spec.packetFilter: invalid packet filter 'host': syntax error",
  );
});

test('a ClusterTrace may use host-wide collectors, USDT probes and system changes', () => {
  expect(() =>
    validateTrace(
      trace(
        { collectors: ['ovs', 'skb'], probes: ['usdt:/usr/sbin/ovs-vswitchd:udpif:upcall'], allowSystemChanges: true },
        null,
      ),
    ),
  ).not.toThrow();
});

test('ovsEnrichFlows and its rate in a ClusterTrace; a rate is whole, 1 to 10000, and only with ovsEnrichFlows', () => {
  const cluster =
    (spec: object): (() => void) =>
    () =>
      validateTrace(trace(spec, null));
  expect(cluster({ collectors: ['ovs'], ovsEnrichFlows: true, ovsEnrichRate: 50 })).not.toThrow();
  expect(cluster({ ovsEnrichFlows: true })).not.toThrow();
  expect(cluster({ ovsEnrichFlows: true, ovsEnrichRate: 0 })).toThrow(
    /^spec\.ovsEnrichRate: 0 is not a whole number of requests a second from 1 to 10000$/,
  );
  expect(cluster({ ovsEnrichFlows: true, ovsEnrichRate: 2.5 })).toThrow(/^spec\.ovsEnrichRate: 2\.5 is not/);
  expect(cluster({ ovsEnrichRate: 5 })).toThrow(
    /^spec\.ovsEnrichRate: it limits ovsEnrichFlows; set ovsEnrichFlows too$/,
  );
});

test('known profiles are accepted; a profile check may be given (the operator remembers found ones)', () => {
  expect(() => validateTrace(trace({ profile: 'drops,ifdump', packetFilter: 'udp' }))).not.toThrow();
  const looked: string[] = [];
  validateTrace(trace({ profile: 'a,b' }), { profile: (n) => void looked.push(n) });
  expect(looked).toEqual(['a', 'b']);
});

test('durations add up their parts', () => {
  expect(parseDuration('d', '1h30m')).toBe(5_400_000);
  expect(parseDuration('d', '500ms')).toBe(500);
  expect(parseDuration('d', '1.5s')).toBe(1500);
  expect(parseDuration('d', undefined)).toBe(0);
});
