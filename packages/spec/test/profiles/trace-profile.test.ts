// A trace's profile expanded on each node: the entry for that node's kernel, merged with the
// trace's own spec, without anything the trace was not allowed.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProfileNoMatchError, ProfileNotFoundError } from '../../src/profiles/errors.js';
import { applyProfile, type ProfileableSpec } from '../../src/profiles/trace-profile.js';
import { fakeKernel } from './fake-kernel.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rt-node-profiles-'));
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'tcp.yaml'),
    `version: 1.0
name: tcp
collect:
  - name: kprobes
    when:
      - type: symbol
        name: tcp_v4_rcv
    args:
      collectors: [skb, skb-drop]
      probe: [kprobe:tcp_v4_rcv, tp:skb:kfree_skb]
      filter_packet: tcp
      stack: ~
      out: tcp.data
      print: ~
  - name: tracepoints
    args:
      collectors: skb,ovs
      probe: [tp:net:netif_receive_skb, 'usdt:/usr/sbin/ovs-vswitchd:udpif_revalidator:start_dump']
      allow_system_changes: ~
      skb_sections: packet,meta
`,
  );
  writeFileSync(
    join(dir, 'old.yaml'),
    'version: 1.0\nname: old\ncollect:\n  - when:\n      - type: version\n        version: "<4.0"\n    args:\n      probe: tp:net:netif_rx\n',
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// The agents' TraceSpec has more fields (name, pods, nodes, limits): they pass through.
type NodeSpec = ProfileableSpec & { name: string; pods: unknown[]; nodes: string[] };

const spec = (more: Partial<NodeSpec> = {}): NodeSpec => ({
  name: 'team/web',
  namespaced: true,
  collectors: ['dev'],
  probes: ['tp:net:net_dev_start_xmit'],
  filter: '',
  meta_filter: '',
  stack: false,
  pods: [],
  ovs_track: false,
  allow_system_changes: false,
  nodes: [],
  skb_sections: [],
  nft_verdicts: '',
  profile: 'tcp',
  ...more,
});

test('each kernel gets the entry that fits it, added to the trace spec', () => {
  const withKprobes = applyProfile(spec(), fakeKernel('6.1.0', ['tcp_v4_rcv']), [dir]);
  expect(withKprobes.spec).toMatchObject({
    collectors: ['dev', 'skb', 'skb-drop'],
    probes: ['tp:net:net_dev_start_xmit', 'kprobe:tcp_v4_rcv', 'tp:skb:kfree_skb'],
    filter: 'tcp',
    stack: true,
  });
  // A local run's output flags mean nothing on a node: left out, and said.
  expect(withKprobes.notes.join('\n')).toMatch(/left out on a cluster node: --out, --print/);

  const without = applyProfile(spec({ filter: 'udp' }), fakeKernel('6.18.0'), [dir]);
  expect(without.spec.probes).toEqual(['tp:net:net_dev_start_xmit', 'tp:net:netif_receive_skb']);
  expect(without.spec.skb_sections).toEqual(['packet', 'meta']);
  expect(without.spec.filter).toBe('udp'); // the trace's own filter wins
  expect(without.notes.join('\n')).toMatch(/applying collect entry 2 'tracepoints'/);
});

test('a pod-scoped trace does not gain host-wide collectors, USDT probes or system changes from a profile', () => {
  const r = applyProfile(spec(), fakeKernel('6.18.0'), [dir]);
  expect(r.spec.collectors).toEqual(['dev', 'skb']);
  expect(r.spec.probes?.some((p) => p.startsWith('usdt:'))).toBe(false);
  expect(r.spec.allow_system_changes).toBe(false);
  expect(r.notes.join('\n')).toMatch(/collector ovs, probe usdt:.*--allow-system-changes/);
  // A cluster-wide trace allowed to change the node keeps them.
  const cluster = applyProfile(spec({ namespaced: false, allow_system_changes: true }), fakeKernel('6.18.0'), [dir]);
  expect(cluster.spec.collectors).toContain('ovs');
  expect(cluster.spec.probes?.some((p) => p.startsWith('usdt:'))).toBe(true);
});

test('no entry for this kernel, or no such profile: an error naming the profile', () => {
  expect(() => applyProfile(spec({ profile: 'old' }), fakeKernel('6.18.0'), [dir])).toThrow(ProfileNoMatchError);
  expect(() => applyProfile(spec({ profile: 'nope' }), fakeKernel('6.18.0'), [dir])).toThrow(ProfileNotFoundError);
  // No profile: the spec as it is.
  const plain = spec({ profile: '' });
  expect(applyProfile(plain, fakeKernel('6.18.0'), [dir]).spec).toBe(plain);
});
