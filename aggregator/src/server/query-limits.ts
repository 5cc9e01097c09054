// The query API's default limits, apart from the server so that the flags' help can name them
// without loading gRPC.
export const DEFAULT_MAX_QUERIES = 8;
export const DEFAULT_INFLIGHT_BYTES = 1 << 20;
export const DEFAULT_STALL_MS = 60_000;
