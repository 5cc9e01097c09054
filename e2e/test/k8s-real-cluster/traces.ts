// Traces at work: a namespaced Trace and a ClusterTrace catch the drops at the test's closed port.
import { portForward } from '../../src/k8s/real-cluster.js';
import { waitForValue } from '../../src/lab/wait.js';
import { NS, RELEASE, addressesIn, podsIn, type ClusterSession } from '../../src/k8s/cluster-session.js';

/**
 * A namespaced Trace: printer columns, the drop with its reason and pod, journeys with real pod names
 * (opens the port-forward to the aggregator).
 */
export async function namespacedTrace(run: ClusterSession): Promise<void> {
  await run.applyTrace('Trace', { name: 'drops-a', namespace: 'team-a' });
  await run.untilStatus(
    'trace',
    'drops-a',
    'team-a',
    'drops-a running on the node',
    (s) => s.phase === 'Running' && (s.nodesReady ?? 0) >= 1,
  );
  const listed = await run.k(['get', 'traces', '-n', 'team-a']);
  expect(listed).toMatch(/^NAME\s+PHASE\s+READY\s+NODES\s+EVENTS\s+LOST\s+TOP DROP/m);
  expect(listed).toMatch(/^drops-a\s+Running\s+/m);
  expect(await run.k(['get', 'retrace', '-A'])).toMatch(/drops-a\s+Running/);

  // Traffic in both namespaces; only team-a's may land in this trace.
  let polls = 0;
  const dropped = await run.untilStatus('trace', 'drops-a', 'team-a', 'the drop in the status', (s) => {
    if (polls++ % 5 === 0) {
      void run.send('team-a', 'client-a', 'server-a');
      void run.send('team-b', 'client-b', 'server-b');
    }
    return s.topDropReasons?.[0]?.reason === 'NO_SOCKET';
  });
  expect(dropped.topDropReasons?.[0]?.pod ?? dropped.topDropReasons?.[0]?.example).toContain('server-a');

  const pf = await portForward(run.c, NS, `svc/${RELEASE}-aggregator`, 7443);
  run.forward = pf;
  const js = await waitForValue(
    async () => {
      // Again each time: the first packets may have raced the agent's mapping of the new pods.
      await run.send('team-a', 'client-a', 'server-a');
      await run.send('team-b', 'client-b', 'server-b');
      const all = await run.journeys('drops-a', ['-n', 'team-a']);
      return all.some((j) => j.at(-1)?.['skb-drop'] && podsIn([j]).has('team-a/server-a')) ? all : undefined;
    },
    'a journey into server-a that ends in the drop',
    60_000,
    1000,
  );
  const pods = podsIn(js);
  expect(pods).toContain('team-a/server-a');
  // Nothing of the other namespace, by pod or by address.
  expect([...pods].filter((p) => !p.startsWith('team-a/'))).toEqual([]);
  const addresses = addressesIn(js);
  expect(addresses).toContain(run.podIp['server-a']);
  expect(addresses).not.toContain(run.podIp['server-b']);
  expect(addresses).not.toContain(run.podIp['client-b']);
  const printed = await run.plugin(['events', 'drops-a', '-n', 'team-a', ...run.aggregatorArgs()]);
  expect(printed).toContain('NO_SOCKET');
  expect(printed).toContain('server-a');
}

/** A ClusterTrace sees both namespaces; kubectl retrace drops -A lists the drop. */
export async function clusterTrace(run: ClusterSession): Promise<void> {
  await run.applyTrace('ClusterTrace', { name: 'drops-all' });
  await run.untilStatus('clustertrace', 'drops-all', undefined, 'drops-all running', (s) => s.phase === 'Running');
  const js = await waitForValue(
    async () => {
      await run.send('team-a', 'client-a', 'server-a');
      await run.send('team-b', 'client-b', 'server-b');
      const all = await run.journeys('drops-all', ['--cluster']);
      const dropped = all.filter((j) => j.at(-1)?.['skb-drop']?.drop_reason === 'NO_SOCKET');
      const seen = addressesIn(dropped);
      // The agent maps pods while the trace runs: the first drops may come before it has.
      const named = podsIn(dropped);
      return seen.has(run.podIp['server-a'] ?? '?') &&
        seen.has(run.podIp['server-b'] ?? '?') &&
        named.has('team-a/server-a') &&
        named.has('team-b/server-b')
        ? all
        : undefined;
    },
    "drops into both namespaces' servers in the ClusterTrace",
    90_000,
    2000,
  );
  // A node-wide trace names the node of each event, and the pod of events in a pod's network
  // namespace (the drops above, in both namespaces).
  expect(js.flat().every((e) => e.k8s?.node === run.c.node)).toBe(true);
  const text = await run.plugin(['events', 'drops-all', '--cluster', ...run.aggregatorArgs()]);
  expect(text).toContain('pod team-b/server-b');
  const drops = await run.plugin(['drops', '-A', ...run.aggregatorArgs()]);
  expect(drops).toMatch(/^NO_SOCKET\s+\d+$/m);
}
