// The aggregator's core, without gRPC: packet fingerprints, the cluster clock, the journey
// sorter, the trace store and trace summaries.
export {
  packetFingerprint,
  packetIdentity,
  fingerprintText,
  readPacketFields,
  readPacketFieldsFromBytes,
  readPacketFieldsByCursor,
  FINGERPRINT_PAYLOAD_BYTES,
  type PacketFields,
  type PacketIdentity,
} from './fingerprint.js';
export { ClusterClock, ClockError, type ClusterClockOptions } from './clock.js';
export { JourneySorter, SorterOptionsError, type JourneySorterOptions, type SortStats } from './journey-sorter.js';
export {
  SortedEvent,
  ReleasedEvent,
  journeySection,
  type Journey,
  type JourneyEvent,
  type SortItem,
  type EventOrigin,
} from './sorted-event.js';
export { SortKeyReader, SortKeys } from './sort-keys.js';
export { EventKeyReader, EventKeys } from './event-keys.js';
export {
  TraceStore,
  StoreError,
  StoreWriteError,
  StateFileError,
  traceDirName,
  type StoreFilter,
  type StoreWarning,
  type TraceStoreOptions,
} from '../store/index.js';
export {
  SummaryBuilder,
  SummaryError,
  NODE_STATES,
  whereLabel,
  type NodeState,
  type SummaryOptions,
} from './summary.js';
export { benchSort, type SortBenchResult } from './bench-sort.js';
export {
  syntheticTrace,
  syntheticArrivals,
  syntheticClock,
  SYNTHETIC_NODES,
  type SyntheticEvent,
} from './synthetic-trace.js';
