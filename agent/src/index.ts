// @retrace/agent: the tracing engine every node runs (and `retrace collect` runs locally). What a
// trace may ask for (probe syntax, filters' syntax, profiles) is @retrace/spec's.
export { TracingSession, type SessionOptions, type SessionCounts, type ProbeCounters } from './session/session.js';
export { planProbes, type PlannedProbe } from './session/plan.js';
export { resolveProbe, type ResolvedProbe } from './probes/resolve.js';
export { chooseMechanism, probeTypeName, type Mechanism } from './probes/mechanism.js';
export { tracepoints, functions, tracefsDir } from './probes/catalog.js';
export {
  chooseCollectors,
  collectorProbes,
  openvswitchPresent,
  COLLECTORS,
  DEFAULT_PROBES,
  type Collector,
} from './collectors.js';
export { RecordDecoder, RecordError } from './decode/record.js';
export { RecordJsonWriter } from './decode/record-json.js';
export { loadLayouts, LayoutError, Sec, ProbeFlag } from './decode/layout.js';
export { DropReasons } from './decode/drop-reasons.js';
export { CtDecoder } from './decode/ct.js';
export { NftDecoder } from './decode/nft.js';
export { verdictMask, planNftKprobe, isNftTraceProbe } from './nft/nft-kprobe.js';
export { Kallsyms, textSymbols } from './decode/kallsyms.js';
export * from './errors.js';
export {
  compileFilter,
  installFilter,
  FILTER_MAGIC_L2,
  FILTER_MAGIC_L3,
  type CompiledFilter,
} from './filter/packet-filter.js';
export { packetFilterChecker } from './filter/filter-checker.js';
export { translateFilter, FilterTranslationError, FILTER_MAX_INSNS } from './filter/cbpf-to-ebpf.js';
export { FilterRunner, TEST_RUN_MAX, type FilterInput } from './filter/filter-runner.js';
export {
  compileMetaFilter,
  MetaFilterFieldError,
  FILTER_MAGIC_META,
  type CompiledMetaFilter,
} from './filter/meta-compile.js';
export { NftMatcher, MATCH_WINDOW_NS, type PacketNote } from './nft/matcher.js';
export { parseTraceDatagram, parseTracePayload, verdictName, type NftTrace } from './nft/trace-message.js';
export { fingerprintFromNetwork, fingerprintFromEthernet } from './nft/fingerprint.js';
export { NftCollector } from './nft/nft-collector.js';
export { nftRecordTap } from './nft/record-tap.js';
export { OvsDecoder, formatUfid } from './decode/ovs.js';
export { ovsQueueId } from './ovs/queue-id.js';
export { planOvs, planOvsUsdt, ovsActionName, type OvsPlan } from './ovs/ovs-plan.js';
export { findVswitchd, type Vswitchd } from './ovs/vswitchd.js';
export {
  PodMapper,
  parseCgroup,
  parseFibTrieLocal,
  parseIfInet6,
  parseIpLinkPeers,
  normalizeIp,
  type PodRef,
  type PodIdentity,
  type PodNetns,
  type PodFilter,
  type PodMapperOptions,
  type RefreshStats,
  type CgroupPod,
} from './k8s/pod-mapper.js';
export { AgentLink, type AgentLinkOptions, type LinkState } from './link/agent-link.js';
export { BatchQueue, type BatchQueueOptions } from './link/batch-queue.js';
export { AgentDaemon, NetnsNotFoundError, type AgentDaemonOptions, AGENT_VERSION } from './daemon/daemon.js';
export { TraceRunner, type PodLookup, type PodContext } from './daemon/trace-runner.js';
export { runningKernel } from './kernel-facts.js';
