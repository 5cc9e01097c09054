// The aggregator's core, without gRPC: fingerprints, the cluster clock, the journey sorter, the
// trace store and trace summaries.
export {
  packetFingerprint,
  packetIdentity,
  fingerprintText,
  readPacketFields,
  readPacketFieldsFromBytes,
  FINGERPRINT_PAYLOAD_BYTES,
  type PacketFields,
  type PacketIdentity,
} from './fingerprint.js';
export { ClusterClock, ClockError, type ClusterClockOptions } from './clock.js';
export {
  JourneySorter,
  SorterOptionsError,
  journeySection,
  type Journey,
  type JourneySorterOptions,
  type SortItem,
  type SortStats,
  type SortedEvent,
} from './journey-sorter.js';
export { benchSort, type SortBenchResult } from './bench-sort.js';
