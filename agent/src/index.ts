// @retrace/agent: the tracing engine every node runs (and `retrace collect` runs locally). What a
// trace may ask for (probe syntax, filters' syntax, profiles) is @retrace/spec's.
export { TracingSession } from './session/session.js';
export { ProbeStack, frameFunction, type ProbeStackOptions } from './session/probe-stack.js';
export type { SessionOptions, CoreSessionOptions, SessionCounts, ProbeCounters } from './session/options.js';
export { planProbes, collectorProbes, DEFAULT_PROBES, type PlannedProbe } from './session/plan.js';
export { resolveProbe, type ResolvedProbe } from './probes/resolve.js';
export { chooseMechanism, probeTypeName, type Mechanism } from './probes/mechanism.js';
export { tracepoints, functions, tracefsDir } from './probes/catalog.js';
export {
  COLLECTOR_NAMES as COLLECTORS,
  REGISTRY,
  type CollectorName,
  type CollectorOptions,
} from './collectors/index.js';
export type { Collector, AutoProbe } from './collectors/collector.js';
export { chooseCollectors, collectorCheck, kernelCheck, withNeeds, type CollectorCheck } from './collectors/choose.js';
export { collectorSections } from './collectors/sections.js';
export { RecordDecoder, RecordError, type ProbeIdentity } from './decode/record.js';
export { RecordJsonWriter } from './decode/record-json.js';
export { batchReader, type BatchReaderOptions } from './session/batch-reader.js';
export { RecordLines, lineTemplate, type JsonLines, type JsonLinesSink } from './decode/record-lines.js';
export { JsonTemplate, TemplateError, type Field, type TableLookup } from './decode/json-template.js';
export { section, partSection, type SectionCodec, type RecordRef } from './decode/section.js';
export { loadLayouts, partPlace, LayoutError, Sec, ProbeFlag, type RecordLayouts } from './decode/layout.js';
export { DropReasons } from './collectors/skb-drop/drop-reasons.js';
export { CtDecoder } from './collectors/ct/decode.js';
export { NftDecoder } from './collectors/nft/decode.js';
export { verdictMask, planNftKprobe, isNftTraceProbe } from './collectors/nft/kprobe.js';
export { Kallsyms, textSymbols } from './decode/kallsyms.js';
export * from './errors.js';
export {
  compileFilter,
  filterOptions,
  installFilter,
  FILTER_MAGIC_L2,
  FILTER_MAGIC_L3,
  type CompiledFilter,
} from './filter/packet-filter.js';
export { translateFilter, FilterTranslationError, FILTER_MAX_INSNS } from './filter/cbpf-to-ebpf.js';
export { FilterRunner, TEST_RUN_MAX, type FilterInput } from './filter/filter-runner.js';
export { packetFilterChecker } from './filter/filter-checker.js';
export {
  compileMetaFilter,
  MetaFilterFieldError,
  FILTER_MAGIC_META,
  type CompiledMetaFilter,
} from './filter/meta-compile.js';
export { NftMatcher, MATCH_WINDOW_NS, type PacketNote } from './collectors/nft/matcher.js';
export { parseTraceDatagram, parseTracePayload, verdictName, type NftTrace } from './nft/trace-message.js';
export { fingerprintFromNetwork, fingerprintFromEthernet } from './nft/fingerprint.js';
export { NftCollector } from './collectors/nft/nft-collector.js';
export {
  NftHandleCache,
  listWithNft,
  UNKNOWN_HANDLE,
  type HandleListing,
  type NftHandles,
} from './collectors/nft/handles.js';
export { nftRecordTap } from './collectors/nft/record-tap.js';
export { OvsDecoder, formatUfid, ufidWords } from './collectors/ovs/decode.js';
export { FlowEnricher, type EnrichRequest } from './collectors/ovs/flow-enricher.js';
export { Unixctl, UnixctlError, jsonObjectEnd, vswitchdControlPath } from './collectors/ovs/unixctl.js';
export { lookupTap } from './collectors/ovs/enrich.js';
export { ovsQueueId } from './collectors/ovs/queue-id.js';
export { planOvs, planOvsUsdt, ovsActionName, type OvsPlan } from './collectors/ovs/plan.js';
export { findVswitchd, type Vswitchd } from './collectors/ovs/vswitchd.js';
export { openvswitchPresent } from './collectors/ovs/index.js';
export {
  PodMapper,
  normalizeIp,
  type PodRef,
  type PodIdentity,
  type PodNetns,
  type PodFilter,
  type PodMapperOptions,
  type RefreshStats,
} from './k8s/pod-mapper.js';
export { parseCgroup, parseFibTrieLocal, parseIfInet6, parseIpLinkPeers, type CgroupPod } from './k8s/proc-text.js';
export { AgentLink, type AgentLinkOptions, type LinkState } from './link/agent-link.js';
export { BatchQueue, type BatchQueueOptions } from './link/batch-queue.js';
export { AgentDaemon, NetnsNotFoundError, type AgentDaemonOptions, AGENT_VERSION } from './daemon/daemon.js';
export { TraceRunner, type PodLookup, type PodContext } from './daemon/trace-runner.js';
export { runningKernel } from './kernel-facts.js';
