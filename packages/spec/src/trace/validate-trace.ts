// The checks of a Trace that the API server's schema cannot make: probes parse, collectors and
// verdicts exist, the meta filter parses, profiles exist, durations read, and what only a
// ClusterTrace may ask for. The packet filter needs libpcap: a FilterChecker compiles it where
// there is one (the CLI, the agents). The operator has none: it leaves the filter to the agents,
// which compile it when the trace starts and refuse it naming spec.packetFilter.
import { COLLECTOR_NAMES, HOST_WIDE_COLLECTORS, isCollectorName } from '../collector-names.js';
import { commaList } from '../comma-list.js';
import { parseMetaFilter } from '../meta-parse.js';
import { parseVerdicts } from '../nft-verdicts.js';
import { parseProbe } from '../probe-syntax.js';
import { findProfile, profileDirs } from '../profiles/search-path.js';
import { isNamespaced, type TraceResource } from './trace-resource.js';
import { TraceSpecError } from './trace-spec-error.js';

/** Compiles a tcpdump expression as the agents will, throwing libpcap's complaint. */
export interface FilterChecker {
  check(expression: string): void;
}

export interface TraceChecks {
  /** Without one, the packet filter is left to the agents. */
  packetFilter?: FilterChecker;
  /** Throws when there is no profile of this name (default: a lookup along the standard search path). */
  profile?: (name: string) => void;
}

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
    if (e instanceof TraceSpecError) throw e;
    throw new TraceSpecError(field, (e as Error).message);
  }
}

/** The packet filter through `checker`, refused as spec.packetFilter with the checker's words. */
export function checkPacketFilter(expression: string, checker: FilterChecker): void {
  checked('packetFilter', () => checker.check(expression));
}

/**
 * A profile check that remembers the profiles it found: validateTrace runs at every status
 * refresh, and a lookup reads every profile file on the search path. One not found is looked up
 * each time (it may be added).
 */
export function profileChecker(dirs?: readonly string[]): (name: string) => void {
  const found = new Set<string>();
  return (name) => {
    if (found.has(name)) return;
    findProfile(name, dirs ?? profileDirs(), () => undefined);
    found.add(name);
  };
}

/** Throws TraceSpecError naming the first field the agents could not run. */
export function validateTrace(t: Pick<TraceResource, 'metadata' | 'spec'>, checks: TraceChecks = {}): void {
  const s = t.spec ?? {};
  const namespaced = isNamespaced(t);
  // Files and old clients skip the API server's enum: names are checked here too.
  for (const [i, c] of ((s.collectors ?? []) as string[]).entries()) {
    if (!isCollectorName(c))
      throw new TraceSpecError(`collectors[${i}]`, `unknown collector ${c} (known: ${COLLECTOR_NAMES.join(', ')})`);
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
  if (packetFilter && checks.packetFilter) checkPacketFilter(packetFilter, checks.packetFilter);
  if (metaFilter) checked('metaFilter', () => parseMetaFilter(metaFilter));
  if (nftVerdicts?.length) checked('nftVerdicts', () => parseVerdicts(nftVerdicts.join(',')));
  if (namespaced && s.allowSystemChanges)
    throw new TraceSpecError(
      'allowSystemChanges',
      'a namespaced Trace may not change the nodes (only a ClusterTrace may, for cluster admins)',
    );
  if (namespaced && s.ovsTrack)
    throw new TraceSpecError('ovsTrack', 'following upcalls into ovs-vswitchd is host-wide; use a ClusterTrace');
  if (namespaced && s.ovsEnrichFlows)
    throw new TraceSpecError(
      'ovsEnrichFlows',
      "asking ovs-vswitchd about datapath flows is host-wide (any pod's flows); use a ClusterTrace",
    );
  const rate = s.ovsEnrichRate;
  if (rate !== undefined && (!Number.isInteger(rate) || rate < 1 || rate > 10_000))
    throw new TraceSpecError('ovsEnrichRate', `${rate} is not a whole number of requests a second from 1 to 10000`);
  if (rate !== undefined && !s.ovsEnrichFlows)
    throw new TraceSpecError('ovsEnrichRate', 'it limits ovsEnrichFlows; set ovsEnrichFlows too');
  // Each node picks the entry for its kernel; here: every named profile exists and reads.
  const profile = s.profile;
  const findOne = checks.profile ?? ((name: string) => void findProfile(name, profileDirs(), () => undefined));
  if (profile) checked('profile', () => commaList(profile).forEach(findOne));
  parseDuration('duration', s.duration);
  parseDuration('output.retention', s.output?.retention);
}
