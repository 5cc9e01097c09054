// What the aggregator's server tests hand it in place of the network: a trace spec with every
// field at its default, and an agent's stream as the link server makes it on registration.
import type { TraceSpec } from '@retrace/events';
import type { AgentStream } from '../../src/server/agent-link-server.js';

/** A trace with `probes` and everything else at its default. */
export const traceSpec = (name: string, probes: string[] = []): TraceSpec => ({
  name,
  namespaced: false,
  probes,
  filter: '',
  meta_filter: '',
  profile: '',
  stack: false,
  ovs_track: false,
  ovs_enrich_flows: false,
  ovs_enrich_rate: 0,
  allow_system_changes: false,
  nft_verdicts: '',
});

/** The stream of `node`'s agent (run `run-1`), registered with its boot offset when given. */
export const agentStream = (node: string, bootOffset?: { sec: bigint; nsec: bigint }): AgentStream => ({
  node,
  incarnation: 'run-1',
  register: {
    protocol: 1,
    node,
    kernel_release: '6.1.0',
    version: 'test',
    incarnation: 'run-1',
    ...(bootOffset ? { boot_offset: bootOffset } : {}),
  },
  connectedAt: Date.now(),
});
