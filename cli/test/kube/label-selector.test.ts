// `--pod-selector` and `--node-selector` read like kubectl's -l and become the Trace's selectors.
import { parseLabelSelectorText, parseNodeSelector } from '../../src/kube/label-selector.js';
import { UsageError } from '../../src/usage-error.js';

test('equality, set and existence requirements become matchLabels and matchExpressions', () => {
  expect(parseLabelSelectorText('--pod-selector', 'app=web, tier in (a, b),env!=prod,!canary,team')).toEqual({
    matchLabels: { app: 'web' },
    matchExpressions: [
      { key: 'tier', operator: 'In', values: ['a', 'b'] },
      { key: 'env', operator: 'NotIn', values: ['prod'] },
      { key: 'canary', operator: 'DoesNotExist' },
      { key: 'team', operator: 'Exists' },
    ],
  });
  expect(parseLabelSelectorText('--pod-selector', 'app.kubernetes.io/name==db')).toEqual({
    matchLabels: { 'app.kubernetes.io/name': 'db' },
  });
  expect(parseLabelSelectorText('--pod-selector', 'x notin (1)')).toEqual({
    matchExpressions: [{ key: 'x', operator: 'NotIn', values: ['1'] }],
  });
});

test('a malformed selector names the flag, the part and the syntax', () => {
  const bad = (text: string): string => {
    try {
      parseLabelSelectorText('--pod-selector', text);
    } catch (e) {
      expect(e).toBeInstanceOf(UsageError);
      return (e as Error).message;
    }
    throw new Error(`accepted ${text}`);
  };
  expect(bad('app=web,,x')).toMatch(
    /--pod-selector "app=web,,x": "" \(requirement 2\) is empty: remove the extra comma/,
  );
  expect(bad('app=we b')).toMatch(/"app=we b" is not a label requirement/);
  expect(bad('-app=x')).toMatch(/invalid label key -app/);
  expect(bad('app=web,app=db')).toMatch(/contradicts app=web/);
  expect(bad('tier in (a,b c)')).toMatch(/invalid label value "b c"/);
});

test('node selectors are key=value pairs, repeated or comma-separated', () => {
  expect(parseNodeSelector(['kubernetes.io/hostname=n1', 'zone=a,pool=gpu'])).toEqual({
    'kubernetes.io/hostname': 'n1',
    zone: 'a',
    pool: 'gpu',
  });
  expect(parseNodeSelector([])).toBeUndefined();
  expect(() => parseNodeSelector(['zone'])).toThrow(/--node-selector "zone": a node selector is key=value/);
  expect(() => parseNodeSelector(['zone in (a)'])).toThrow(UsageError);
});
