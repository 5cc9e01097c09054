// Entry args as flags: dashes for underscores, lists repeat the flag, ~ is a bare flag, and
// each key is checked against the subcommand's real options.
import { Command } from 'commander';
import { expandArgs, type ProfileArg } from '@retrace/spec';
import { optionShapes } from '../../src/profiles/option-shapes.js';

// The shapes of collect's options that matter here (the real command is built the same way).
const collect = new Command('collect')
  .option('-c, --collectors <list>')
  .option('-p, --probe <probe>')
  .option('-o, --out [file]')
  .option('--stack')
  .option('-e')
  .option('--nft-verdicts <list>');
const options = optionShapes(collect);
const arg = (key: string, value: ProfileArg['value']): ProfileArg => ({ key, value, line: 7 });

test('key: value, underscores to dashes, lists repeat the flag, ~ is a bare flag, one letter is a short flag', () => {
  const r = expandArgs(
    [
      arg('collectors', 'skb-drop,skb'),
      arg('nft_verdicts', 'drop'),
      arg('probe', ['tp:net:netif_receive_skb', 'tp:skb:kfree_skb/stack']),
      arg('stack', null),
      arg('e', null),
    ],
    options,
    'collect',
  );
  expect(r.problems).toEqual([]);
  expect(r.argv).toEqual([
    '--collectors',
    'skb-drop,skb',
    '--nft-verdicts',
    'drop',
    '--probe',
    'tp:net:netif_receive_skb',
    '--probe',
    'tp:skb:kfree_skb/stack',
    '--stack',
    '-e',
  ]);
});

test('an option whose value is optional gets it attached, so "-" stays its value', () => {
  expect(expandArgs([arg('out', '-')], options, 'collect').argv).toEqual(['--out=-']);
  expect(expandArgs([arg('out', null)], options, 'collect').argv).toEqual(['--out']);
});

test('a key that is not an option is named with its line and the options that exist', () => {
  const r = expandArgs([arg('collectors', 'skb'), arg('ovs-track', null)], options, 'collect');
  expect(r.argv).toEqual(['--collectors', 'skb']);
  expect(r.problems).toEqual([
    expect.stringMatching(
      /^'ovs-track' \(line 7\): retrace collect has no --ovs-track option; its options are --collectors, --probe/,
    ),
  ]);
});

test('a value for a flag, or ~ for an option that needs a value, is refused with the fix', () => {
  expect(expandArgs([arg('stack', 'yes')], options, 'collect').problems[0]).toMatch(
    /--stack takes no value; write 'stack: ~'/,
  );
  expect(expandArgs([arg('probe', null)], options, 'collect').problems[0]).toMatch(/--probe needs a value/);
});
