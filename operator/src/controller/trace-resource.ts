// Trace and ClusterTrace: their spec and status as the CRDs in crds/ define them, the checks
// the API server's schema cannot make (a filter that does not compile, a probe that does not
// parse, a namespaced Trace asking for host-wide probes), and the TraceSpec agents run.
import {
  COLLECTORS,
  commaList,
  compileFilter,
  findProfile,
  parseMetaFilter,
  parseProbe,
  parseVerdicts,
  profileDirs,
} from '@retrace/agent';
import type { PodRef, TraceSpec } from '@retrace/events';
import { objectKey, type KubeObject, type LabelSelector } from './kube-types.js';

export const GROUP = 'retrace.dev';
export const VERSION = 'v1alpha1';
export const FINALIZER = 'retrace.dev/results';

export interface TraceResourceSpec {
  collectors?: string[];
  probes?: string[];
  packetFilter?: string;
  metaFilter?: string;
  profile?: string;
  nodeSelector?: Record<string, string>;
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  duration?: string;
  maxEvents?: number;
  eventsPerSecondPerNode?: number;
  skbSections?: string[];
  nftVerdicts?: string[];
  ovsTrack?: boolean;
  stack?: boolean;
  allowSystemChanges?: boolean;
  stopped?: boolean;
  output?: { pcap?: boolean; retention?: string };
}

export type Phase = 'Pending' | 'Running' | 'Completed' | 'Failed' | 'Degraded';

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface NodeStatus {
  name: string;
  state: string;
  kernel?: string;
  probesAttached?: number;
  probesFailed?: { probe: string; reason: string }[];
  events?: number;
  lost?: number;
  message?: string;
}

export interface TraceResourceStatus {
  phase?: Phase;
  message?: string;
  observedGeneration?: number;
  conditions?: Condition[];
  nodes?: NodeStatus[];
  nodesReady?: number;
  nodesTotal?: number;
  events?: number;
  lost?: number;
  topDropReasons?: { reason: string; count: number; node?: string; pod?: string; example?: string }[];
  topDropReason?: string;
  startTime?: string;
  endTime?: string;
  results?: { aggregator?: string; trace?: string; storedEvents?: number };
}

export interface TraceResource extends KubeObject {
  spec?: TraceResourceSpec;
  status?: TraceResourceStatus;
}

/** The kind a resource is, from where it lives: namespaced objects are Traces. */
export const isNamespaced = (t: TraceResource): boolean => t.metadata.namespace !== undefined;

/** The name the aggregator stores a trace under: namespace/name, or name for a ClusterTrace. */
export const aggregatorName = (t: TraceResource): string => objectKey(t);

/** A spec the operator refuses: the trace goes Failed with this message. */
export class TraceSpecError extends Error {
  constructor(
    readonly field: string,
    detail: string,
  ) {
    super(`spec.${field}: ${detail}`);
    this.name = 'TraceSpecError';
  }
}

// Probes and collectors that see more than packets of the trace's pods: the host's processes
// (USDT in ovs-vswitchd) or datapath-wide state. Only a ClusterTrace may ask for them.
const HOST_WIDE_COLLECTORS = new Set(['ovs']);

/** "1m30s", "500ms", "2h" -> ms (the CRD's pattern; checked again, since files skip the API). */
export function parseDuration(field: string, text: string | undefined): number {
  if (text === undefined || text === '') return 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let ms = 0;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(text)) !== null) {
    ms += Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'] ?? 0);
    end = re.lastIndex;
  }
  if (end !== text.length || end === 0)
    throw new TraceSpecError(field, `${JSON.stringify(text)} is not a duration like 30s, 500ms, 2m or 1h30m`);
  return Math.round(ms);
}

/** `check()`'s result, or its error as a TraceSpecError naming `field`. */
function checked<T>(field: string, check: () => T): T {
  try {
    return check();
  } catch (e) {
    throw new TraceSpecError(field, (e as Error).message);
  }
}

// Profiles already found are not looked up again: validateTrace runs at every status refresh,
// and a lookup reads every profile file on the search path. One not found is looked up each time
// (it may be added).
const foundProfiles = new Set<string>();

function checkProfile(name: string): void {
  if (foundProfiles.has(name)) return;
  findProfile(name, profileDirs(), () => undefined);
  foundProfiles.add(name);
}

/** Throws TraceSpecError naming the first field the agents could not run. */
export function validateTrace(t: TraceResource): void {
  const s = t.spec ?? {};
  const namespaced = isNamespaced(t);
  for (const [i, c] of (s.collectors ?? []).entries()) {
    if (!(COLLECTORS as readonly string[]).includes(c))
      throw new TraceSpecError(`collectors[${i}]`, `unknown collector ${c} (known: ${COLLECTORS.join(', ')})`);
    if (namespaced && HOST_WIDE_COLLECTORS.has(c))
      throw new TraceSpecError(
        `collectors[${i}]`,
        `the ${c} collector sees the whole node's datapath; a namespaced Trace may not use it (use a ClusterTrace)`,
      );
  }
  for (const [i, p] of (s.probes ?? []).entries()) {
    if (namespaced && checked(`probes[${i}]`, () => parseProbe(p).kind) === 'usdt')
      throw new TraceSpecError(
        `probes[${i}]`,
        `${p} probes a host process, not packets of this namespace; a namespaced Trace may not use it (use a ClusterTrace)`,
      );
  }
  const { packetFilter, metaFilter, nftVerdicts } = s;
  if (packetFilter) checked('packetFilter', () => compileFilter(packetFilter));
  if (metaFilter) checked('metaFilter', () => parseMetaFilter(metaFilter));
  if (nftVerdicts?.length) checked('nftVerdicts', () => parseVerdicts(nftVerdicts.join(',')));
  if (namespaced && s.allowSystemChanges)
    throw new TraceSpecError(
      'allowSystemChanges',
      'a namespaced Trace may not change the nodes (only a ClusterTrace may, for cluster admins)',
    );
  if (namespaced && s.ovsTrack)
    throw new TraceSpecError('ovsTrack', 'following upcalls into ovs-vswitchd is host-wide; use a ClusterTrace');
  // Each node picks the entry for its kernel; here: every named profile exists and reads.
  const profile = s.profile;
  if (profile) checked('profile', () => commaList(profile).forEach(checkProfile));
  parseDuration('duration', s.duration);
  parseDuration('output.retention', s.output?.retention);
}

/** What the agents run for a trace, for the nodes and pods it targets. */
export function traceSpecOf(t: TraceResource, nodes: string[], pods: PodRef[]): TraceSpec {
  const s = t.spec ?? {};
  const namespaced = isNamespaced(t);
  return {
    name: aggregatorName(t),
    // A namespaced Trace is always scoped by network namespace; a ClusterTrace is when it
    // selects pods (otherwise it traces whole nodes).
    namespaced: namespaced || s.podSelector !== undefined || s.namespaceSelector !== undefined,
    collectors: s.collectors ?? [],
    probes: s.probes ?? [],
    filter: s.packetFilter ?? '',
    profile: s.profile ?? '',
    meta_filter: s.metaFilter ?? '',
    stack: s.stack === true,
    limits: {
      max_events: BigInt(s.maxEvents ?? 0),
      duration_ms: 0, // the operator ends traces on duration (one clock for every node)
      events_per_sec: s.eventsPerSecondPerNode ?? 0,
    },
    pods,
    ovs_track: s.ovsTrack === true,
    allow_system_changes: !namespaced && s.allowSystemChanges === true,
    nodes,
    skb_sections: s.skbSections ?? [],
    nft_verdicts: (s.nftVerdicts ?? []).join(','),
  };
}
