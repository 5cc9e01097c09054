// The agents' packet filter check (the operator has no libpcap and leaves it to them): libpcap's
// own complaint, as the refusal of spec.packetFilter that the trace's status shows.
import { packetFilterChecker } from '@retrace/agent';
import { checkPacketFilter, validateTrace } from '@retrace/spec';

test("'tcp port' is refused as spec.packetFilter with libpcap's words", () => {
  expect(() => checkPacketFilter('tcp port', packetFilterChecker)).toThrow(
    /^spec\.packetFilter: invalid packet filter 'tcp port': .*syntax error/,
  );
  expect(() => checkPacketFilter('tcp port 80 and host 10.0.0.1', packetFilterChecker)).not.toThrow();
});

test('with the checker, validateTrace refuses the filter as the CLI does before creating a trace', () => {
  const t = { metadata: { name: 'bad', namespace: 'team' }, spec: { packetFilter: 'tcp port' } };
  expect(() => validateTrace(t, { packetFilter: packetFilterChecker })).toThrow(/^spec\.packetFilter: /);
});
