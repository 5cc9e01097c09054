// Nonsense on the command line is refused before anything runs, with the flag named: empty
// items in comma lists (with their position), zero, negative and untimeable durations, counts
// out of range.
import { runRetrace } from '@retrace/e2e';
import { MAX_DURATION_S, positiveInt, seconds, skbSections } from '../src/commands/collect-flags.js';
import { UsageError } from '../src/usage-error.js';

test('durations: seconds, s, ms and m; zero, negative, sub-millisecond and too long are refused', () => {
  expect(seconds('10')).toBe(10);
  expect(seconds('2.5s')).toBe(2.5);
  expect(seconds('500ms')).toBe(0.5);
  expect(seconds('1m')).toBe(60);
  expect(seconds('1ms')).toBe(0.001);
  for (const zero of ['0', '0s', '0ms', '0.0', '0m'])
    expect(() => seconds(zero)).toThrow(/--duration .* would stop before anything is traced.*leave --duration out/);
  expect(() => seconds('-5')).toThrow(/--duration '-5': a negative duration makes no sense/);
  expect(() => seconds('0.5ms')).toThrow(/shorter than 1 ms/);
  expect(() => seconds(`${Math.ceil(MAX_DURATION_S) + 1}`)).toThrow(/longer than retrace can time/);
  expect(() => seconds('1e9')).toThrow(UsageError);
  expect(() => seconds('soon')).toThrow(/--duration 'soon': not a duration; give a number of seconds/);
});

test('counts: positive and exact', () => {
  expect(positiveInt('--stop-after', '5')).toBe(5);
  expect(() => positiveInt('--stop-after', '0')).toThrow(/--stop-after must be a positive integer, got '0'/);
  expect(() => positiveInt('--stop-after', '-3')).toThrow(/--stop-after must be a positive integer/);
  expect(() => positiveInt('--stop-after', '99999999999999999999')).toThrow(/--stop-after .* is too large/);
});

test('an empty item of a comma list names the flag and its position', () => {
  expect(() => skbSections('meta,,packet')).toThrow(/--skb-sections: item 2 of 'meta,,packet' is empty/);
  expect(() => skbSections('meta,')).toThrow(/item 2 of 'meta,' is empty/);
  expect([...skbSections(' meta , packet ')]).toEqual(['meta', 'packet']);
});

test('the command line refuses them before tracing anything (exit 2)', () => {
  const cases: [string[], RegExp][] = [
    [
      ['collect', '-c', 'skb,,skb-drop'],
      /-c\/--collectors: item 2 of 'skb,,skb-drop' is empty; remove the extra comma/,
    ],
    [['collect', '-c', 'skb', '-c', ','], /-c\/--collectors: item 1 of ',' is empty/],
    [['collect', '--nft-verdicts', 'drop,'], /--nft-verdicts: item 2 of 'drop,' is empty/],
    [['collect', '--duration', '0'], /--duration 0 would stop before anything is traced/],
    [['collect', '--duration', '-1'], /--duration '-1': a negative duration makes no sense/],
    [['collect', '--stop-after', '0'], /--stop-after must be a positive integer/],
    [['collect', '--ring-size', String(2 ** 31)], /--ring-size .* at most 1073741824/],
    [['inspect', '-c', ',skb'], /-c\/--collectors: item 1 of ',skb' is empty/],
    [['-p', 'generic,,drop', 'collect'], /-p\/--profile: item 2 of 'generic,,drop' is empty/],
    [['create', 't', '--node-profile', 'a,,b', '--dry-run'], /--node-profile: item 2 of 'a,,b' is empty/],
    [['create', 't', '--duration', '0', '--dry-run'], /--duration 0 would stop/],
    [['create', 't', '-c', 'skb,bogus', '--dry-run'], /-c\/--collectors: unknown collector bogus \(known: auto, /],
    // Where libpcap loads (here) the filter is compiled before the trace is made, as the agents will.
    [
      ['create', 't', '-f', 'tcp port', '--dry-run'],
      /-f\/--filter-packet: spec\.packetFilter: invalid packet filter 'tcp port': .*syntax error/,
    ],
  ];
  for (const [args, message] of cases) {
    const r = runRetrace(args);
    expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code: 2, stderr: expect.stringMatching(message) });
    expect(r.stderr).not.toMatch(/attached/);
  }
});

test('--skb-sections as retis: nothing beyond the packet by default, its old values accepted with a warning', () => {
  const warned: string[] = [];
  const warn = (l: string): void => void warned.push(l);
  expect([...skbSections(undefined, warn)]).toEqual(['packet']);
  expect([...skbSections('meta,gso', warn)]).toEqual(['meta', 'gso', 'packet']);
  expect([...skbSections('all', warn)]).toEqual(['meta', 'dataref', 'gso', 'packet']);
  expect(warned).toEqual([]);
  expect([...skbSections('eth,ip,dev,meta', warn)]).toEqual(['meta', 'packet']);
  expect(warned).toEqual([
    "warning: use of 'ip' in --skb-sections is deprecated (its data is always collected)",
    "warning: use of 'dev' in --skb-sections is deprecated (its data is always collected)",
  ]);
  expect(() => skbSections('meta,bogus', warn)).toThrow(
    /unknown --skb-sections bogus; known: all, meta, dataref, gso \(deprecated, accepted: eth, packet, arp, ip/,
  );
});
