// The trace store: what the rest of the aggregator uses of it.
export { TraceStore } from './trace-store.js';
export { StoreError, StoreWriteError, StateFileError, type StoreWarning } from './errors.js';
export { DEFAULT_CAP_BYTES, type TraceStoreOptions } from './options.js';
export type { StoreFilter } from './segment-index.js';
export type { SegmentExtent } from './segment.js';
export type { NodeUsage } from './stored-trace.js';
export { stateFile } from './state-files.js';
export { traceDirName } from './trace-dir-name.js';
export { setAside, writeAtomically } from './durable-fs.js';
