// Wall clock minus CLOCK_MONOTONIC: what puts BPF timestamps (bpf_ktime_get_ns) on the wall clock.
import { native } from './native.js';

export interface MonotonicClockOffset {
  /** Wall-clock ns since the epoch minus CLOCK_MONOTONIC ns. */
  offsetNs: bigint;
  /** Width of the narrowest monotonic bracket around the wall-clock read (the error bound), ns. */
  uncertaintyNs: number;
}

/**
 * Reads the offset in C at nanosecond resolution, to well under a microsecond: agents on nodes
 * sharing one clock must agree closely enough to order a packet's hops between them.
 */
export function monotonicClockOffset(): MonotonicClockOffset {
  return native.monotonicClockOffset();
}
