// What a trace store may hold: its caps, checked once when it opens.
import { StoreError, type StoreWarning } from './errors.js';

/** A trace's bytes of segments when capBytes is not given. */
export const DEFAULT_CAP_BYTES = 256 * 1024 * 1024;

export interface TraceStoreOptions {
  /**
   * Bytes of segments per trace (default 256 MiB), shared by its nodes: each node gets
   * capBytes / nodes seen (at least nodeFloorBytes) and its events past that are refused.
   */
  capBytes?: number;
  /** The least share of a trace a node gets however many nodes send (default capBytes / 8, at most 1 MiB). */
  nodeFloorBytes?: number;
  /** Bytes of segments of all traces together (default 4 x capBytes); past it, appends are refused. */
  totalCapBytes?: number;
  /** A segment is closed and a new one started past this size (default 8 MiB). */
  segmentBytes?: number;
  /** Problems found (damaged records or files, refused writes), with what was done about them. */
  onWarning?: (message: string, warning: StoreWarning) => void;
  /** Events of a node refused by its quota (or the store's cap), per append: lost, cause 'quota'. */
  onRefused?: (trace: string, node: string, events: number) => void;
}

/** The options' sizes, defaults filled in and checked. */
export interface StoreLimits {
  capBytes: number;
  totalCapBytes: number;
  floorBytes: number;
  segmentBytes: number;
}

/** The limits the options give; StoreError names the option that cannot work. */
export function storeLimits(opts: TraceStoreOptions): StoreLimits {
  const capBytes = opts.capBytes ?? DEFAULT_CAP_BYTES;
  const segmentBytes = opts.segmentBytes ?? 8 * 1024 * 1024;
  const totalCapBytes = opts.totalCapBytes ?? 4 * capBytes;
  const floorBytes = opts.nodeFloorBytes ?? Math.min(1 << 20, Math.floor(capBytes / 8));
  for (const [name, v] of [
    ['capBytes', capBytes],
    ['segmentBytes', segmentBytes],
    ['totalCapBytes', totalCapBytes],
  ] as const)
    if (!Number.isInteger(v) || v < 1) throw new StoreError(`${name} must be a whole number of bytes >= 1, got ${v}`);
  if (!Number.isInteger(floorBytes) || floorBytes < 0 || floorBytes > capBytes)
    throw new StoreError(
      `nodeFloorBytes must be a whole number of bytes from 0 to capBytes (${capBytes}), got ${floorBytes}`,
    );
  if (capBytes < segmentBytes)
    throw new StoreError(
      `capBytes (${capBytes}) must be at least segmentBytes (${segmentBytes}): eviction works a segment at a time`,
    );
  if (totalCapBytes < capBytes)
    throw new StoreError(
      `totalCapBytes (${totalCapBytes}) must be at least capBytes (${capBytes}): it is the cap of all traces together`,
    );
  return { capBytes, totalCapBytes, floorBytes, segmentBytes };
}
