// A trace's status from what the operator decided (valid, targets, ended) and what the
// aggregator reports (per-node state, events, losses, drops): phase, conditions, per-node
// entries and totals, in the shape the CRDs declare.
import type { NodeSummary, TraceSummary } from '@retrace/events';
import {
  TraceSpecError,
  type Condition,
  type NodeStatus,
  type Phase,
  type TraceResource,
  type TraceResourceStatus,
} from '@retrace/spec';
import { aggregatorName } from './trace-resource.js';

export interface StatusInputs {
  /**
   * Why the operator refused the spec (the trace is Failed). A refusal by an agent (a field only
   * agents can check, such as the packet filter) comes through the summary instead.
   */
  invalid?: string;
  /** Nodes the trace should run on. */
  nodes: string[];
  /** Nodes with a connected agent. */
  connected: ReadonlySet<string>;
  summary: TraceSummary | undefined;
  startTime: string | undefined;
  /** Why it ended (stopped, duration, maxEvents), if it did. */
  ended?: { reason: string; message: string; at: string };
  aggregator: string;
  now: string;
}

const HEALTHY = new Set(['running', 'complete']);

/**
 * An agent's refusal of the spec, if a targeted node sent one: its attach error names a spec
 * field (`spec.packetFilter: ...`). It is the spec's fault, not the node's: the trace is Failed.
 * Agents are told of a changed spec like any other, and their next answer replaces this one.
 */
export function agentRefusal(summary: TraceSummary | undefined, nodes: readonly string[]): string | undefined {
  const refusals = (summary?.nodes ?? [])
    .filter((n) => n.state === 'failed' && nodes.includes(n.node) && TraceSpecError.fieldOf(n.error) !== undefined)
    .sort((a, b) => a.node.localeCompare(b.node));
  return refusals[0]?.error;
}

export function buildStatus(t: TraceResource, input: StatusInputs): TraceResourceStatus {
  const refused = input.invalid ? undefined : agentRefusal(input.summary, input.nodes);
  const i: StatusInputs = refused ? { ...input, invalid: refused } : input;
  const old = t.status ?? {};
  const generation = t.metadata.generation ?? 0;
  const byNode = new Map((i.summary?.nodes ?? []).map((n) => [n.node, n]));
  const names = [...new Set([...i.nodes, ...(i.ended ? byNode.keys() : [])])].sort();
  const nodes: NodeStatus[] = names.map((name) => {
    const n = byNode.get(name);
    const state = n ? n.state : i.connected.has(name) ? 'attaching' : 'no agent';
    return {
      name,
      state,
      ...(n?.kernel_release ? { kernel: n.kernel_release } : {}),
      probesAttached: n?.probes_attached ?? 0,
      probesFailed: probesFailed(n),
      events: Number(n?.events ?? 0n),
      lost: Number(n?.lost ?? 0n),
      ...(n?.error
        ? { message: n.error }
        : state === 'no agent'
          ? { message: 'no retrace agent connected from this node' }
          : {}),
    };
  });
  const ready = nodes.filter((n) => HEALTHY.has(n.state)).length;
  const troubled = nodes.filter(
    (n) => ['failed', 'lost', 'no agent'].includes(n.state) || (n.probesFailed?.length ?? 0) > 0,
  );

  let phase: Phase;
  let message: string;
  if (i.invalid) {
    phase = 'Failed';
    message = i.invalid;
  } else if (i.ended) {
    phase = 'Completed';
    message = i.ended.message;
  } else if (nodes.length === 0) {
    phase = 'Pending';
    message = 'no node matches the trace (node selector, or pods matching the pod selector)';
  } else if (ready === 0) {
    phase = troubled.length === nodes.length ? 'Degraded' : 'Pending';
    message = phase === 'Degraded' ? nodeTrouble(troubled) : `waiting for ${nodes.length} node(s) to attach probes`;
  } else if (troubled.length) {
    phase = 'Degraded';
    message = nodeTrouble(troubled);
  } else if (i.summary?.store_problem) {
    // Agents trace on, but nothing they send is stored until the aggregator can write again.
    phase = 'Degraded';
    message = `the aggregator's store cannot write: ${i.summary.store_problem} (agents hold their events meanwhile, then count what they drop)`;
  } else {
    phase = 'Running';
    message = `tracing on ${ready} node(s)`;
  }

  const conditions = [
    cond(
      old,
      'Valid',
      i.invalid ? 'False' : 'True',
      i.invalid ? 'InvalidSpec' : 'SpecAccepted',
      i.invalid ?? 'the spec is valid',
      i.now,
      generation,
    ),
    cond(
      old,
      'Scheduled',
      nodes.length ? 'True' : 'False',
      nodes.length ? 'NodesSelected' : 'NoTargets',
      nodes.length ? `${nodes.length} node(s): ${names.join(', ')}` : message,
      i.now,
      generation,
    ),
    cond(
      old,
      'Ready',
      phase === 'Running' ? 'True' : 'False',
      phase === 'Running' ? 'AllNodesTracing' : phase,
      message,
      i.now,
      generation,
    ),
    cond(
      old,
      'Complete',
      i.ended ? 'True' : 'False',
      i.ended?.reason ?? 'InProgress',
      i.ended?.message ?? 'the trace has not ended',
      i.now,
      generation,
    ),
  ];

  const drops = (i.summary?.drops ?? []).slice(0, 5).map((d) => ({
    reason: d.reason,
    count: Number(d.count),
    ...(d.example ? { example: d.example } : {}),
  }));
  const s: TraceResourceStatus = {
    phase,
    message,
    observedGeneration: generation,
    conditions,
    nodes,
    nodesReady: ready,
    nodesTotal: nodes.length,
    events: Number(i.summary?.events ?? 0n),
    lost: Number(i.summary?.lost ?? 0n),
    topDropReasons: drops,
    topDropReason: drops[0] ? `${drops[0].reason} (${drops[0].count})` : '',
    results: {
      aggregator: i.aggregator,
      trace: aggregatorName(t),
      storedEvents: Number(i.summary?.events ?? 0n),
    },
  };
  if (i.startTime) s.startTime = i.startTime;
  if (i.ended) s.endTime = old.endTime ?? i.ended.at;
  return s;
}

/**
 * The probes that failed on a node, with why; the failures the summary does not name (past its
 * bound, or a summary saved before it named them) as one entry with an empty probe and a count.
 */
function probesFailed(n: NodeSummary | undefined): NonNullable<NodeStatus['probesFailed']> {
  const named = (n?.failed_probes ?? []).map((f) => ({ probe: f.probe, reason: f.reason }));
  const unnamed = (n?.probes_failed ?? 0) - named.length;
  if (unnamed > 0) named.push({ probe: '', reason: `${unnamed}${named.length ? ' more' : ''} probe(s) failed` });
  return named;
}

function nodeTrouble(nodes: NodeStatus[]): string {
  return nodes.map((n) => `${n.name}: ${n.message ?? n.state}`).join('; ');
}

/** A condition, keeping its transition time when its status did not change. */
function cond(
  old: TraceResourceStatus,
  type: string,
  status: Condition['status'],
  reason: string,
  message: string,
  now: string,
  observedGeneration: number,
): Condition {
  const prev = old.conditions?.find((c) => c.type === type);
  const lastTransitionTime = prev && prev.status === status ? prev.lastTransitionTime : now;
  return { type, status, reason, message, lastTransitionTime, observedGeneration };
}
