// `retrace create NAME [collect flags]` describes the same trace `retrace collect` would run.
import { traceFromFlags, type CreateFlags } from '../../src/kube/trace-from-flags.js';
import { UsageError } from '../../src/usage-error.js';

const flags = (more: Partial<CreateFlags> = {}): CreateFlags => ({
  collectors: [],
  probe: [],
  namespace: 'team',
  nodeSelector: [],
  skbSections: 'all',
  nftVerdicts: 'drop,accept',
  ...more,
});

test('collect flags map onto the Trace spec, defaults left out', () => {
  const t = traceFromFlags(
    'web-drops',
    flags({
      collectors: ['skb,skb-drop', 'nft'],
      probe: ['tp:net:netif_receive_skb', 'tp:skb:kfree_skb'],
      filterPacket: 'tcp port 80',
      filterMeta: "sk_buff.dev.name == 'eth0'",
      stopAfter: '5000',
      duration: '90',
      stack: true,
      skbSections: 'packet,meta',
      nftVerdicts: 'drop',
      podSelector: 'app=web',
      nodeSelector: ['zone=a'],
      eventsPerSecond: '2000',
      pcap: true,
      retention: '2h',
    }),
  );
  expect(t).toEqual({
    apiVersion: 'retrace.dev/v1alpha1',
    kind: 'Trace',
    metadata: { name: 'web-drops', namespace: 'team' },
    spec: {
      collectors: ['skb', 'skb-drop', 'nft'],
      probes: ['tp:net:netif_receive_skb', 'tp:skb:kfree_skb'],
      packetFilter: 'tcp port 80',
      metaFilter: "sk_buff.dev.name == 'eth0'",
      nodeSelector: { zone: 'a' },
      podSelector: { matchLabels: { app: 'web' } },
      duration: '90s',
      maxEvents: 5000,
      eventsPerSecondPerNode: 2000,
      skbSections: ['packet', 'meta'],
      nftVerdicts: ['drop'],
      stack: true,
      output: { pcap: true, retention: '2h' },
    },
  });
  // Nothing given: an empty spec, the operator's and agents' defaults apply (auto collectors).
  expect(traceFromFlags('t', flags({ collectors: ['auto'] })).spec).toEqual({});
  expect(traceFromFlags('t', flags({ duration: '1.5' })).spec?.duration).toBe('1500ms');
  expect(traceFromFlags('t', flags({ duration: '2m' })).spec?.duration).toBe('120s');
  expect(traceFromFlags('t', flags({ nftVerdicts: 'all' })).spec?.nftVerdicts).toHaveLength(7);
  expect(traceFromFlags('t', flags({ nodeProfile: 'drops,ifdump' })).spec?.profile).toBe('drops,ifdump');
});

test('a ClusterTrace is cluster-scoped and may select namespaces and change the nodes', () => {
  const t = traceFromFlags(
    'all-drops',
    flags({ cluster: true, namespaceSelector: 'team', allowSystemChanges: true, ovsTrack: true, collectors: ['ovs'] }),
  );
  expect(t.kind).toBe('ClusterTrace');
  expect(t.metadata).toEqual({ name: 'all-drops' });
  expect(t.spec).toMatchObject({
    namespaceSelector: { matchExpressions: [{ key: 'team', operator: 'Exists' }] },
    allowSystemChanges: true,
    ovsTrack: true,
  });
});

test('--ovs-enrich-flows and --ovs-enrich-rate make a ClusterTrace that enriches OVS flows', () => {
  const t = traceFromFlags(
    'ovs',
    flags({ cluster: true, collectors: ['ovs'], ovsEnrichFlows: true, ovsEnrichRate: '5' }),
  );
  expect(t.spec).toMatchObject({ collectors: ['ovs'], ovsEnrichFlows: true, ovsEnrichRate: 5 });
  expect(() => traceFromFlags('t', flags({ ovsEnrichFlows: true }))).toThrow(/--ovs-enrich-flows needs --cluster/);
  expect(() => traceFromFlags('t', flags({ cluster: true, ovsEnrichRate: '5' }))).toThrow(
    /--ovs-enrich-rate needs --ovs-enrich-flows/,
  );
  expect(() => traceFromFlags('t', flags({ cluster: true, ovsEnrichFlows: true, ovsEnrichRate: '0' }))).toThrow(
    /--ovs-enrich-rate/,
  );
});

test('flags a namespaced Trace cannot have, or the cluster cannot run, are refused by name', () => {
  expect(() => traceFromFlags('t', flags({ namespaceSelector: 'a=b' }))).toThrow(
    /--namespace-selector needs --cluster/,
  );
  expect(() => traceFromFlags('t', flags({ allowSystemChanges: true }))).toThrow(
    /--allow-system-changes needs --cluster/,
  );
  expect(() => traceFromFlags('t', flags({ nftVerdicts: 'drop,queue' }))).toThrow(
    /--nft-verdicts queue: .*local runs only/,
  );
  expect(() => traceFromFlags('t', flags({ stopAfter: '0' }))).toThrow(/--stop-after must be a positive integer/);
  expect(() => traceFromFlags('t', flags({ duration: 'soon' }))).toThrow(UsageError);
  expect(() => traceFromFlags('t', flags({ skbSections: 'tcpx' }))).toThrow(/unknown --skb-sections tcpx/);
});
