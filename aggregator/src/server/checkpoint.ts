// The aggregator's checkpoint: one state document of the store (TraceStore.saveState, the store's
// one atomic and durable write), written after the store was synced, holding what a restart needs
// to go on exactly where the acknowledgements stopped: the store's extent (appends after it are
// removed: the agents resend them), the summaries as of then, and the acknowledgement ledger. It
// is read before the store is opened (TraceStore.readState), since the store is rolled back to it.
import { decodeMessage, encodeMessage, type TraceSummary } from '@retrace/events';
import { StateFileError, TraceStore, stateFile, type SegmentExtent } from '../store/index.js';
import type { LedgerEntryState } from './ack-ledger.js';

export const CHECKPOINT_VERSION = 1;
const CHECKPOINT_KEY = 'checkpoint';

export interface Checkpoint {
  version: number;
  /** ISO time it was written (for people reading it). */
  written: string;
  extents: Record<string, SegmentExtent[]>;
  summaries: Record<string, TraceSummary>;
  ledger: LedgerEntryState[];
}

interface OnDisk {
  version: number;
  written: string;
  extents: Record<string, SegmentExtent[]>;
  /** TraceSummary protobuf, base64: bigints and all, as the wire has them. */
  summaries: Record<string, string>;
  ledger: LedgerEntryState[];
}

export const checkpointPath = (storeDir: string): string => stateFile(storeDir, CHECKPOINT_KEY);

export class CheckpointError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'CheckpointError';
  }
}

/** The store's checkpoint, or undefined when there is none (a new store). */
export function readCheckpoint(storeDir: string): Checkpoint | undefined {
  const file = checkpointPath(storeDir);
  let v: unknown;
  try {
    v = TraceStore.readState(storeDir, CHECKPOINT_KEY);
  } catch (e) {
    if (e instanceof StateFileError) throw new CheckpointError(file, `unreadable (${e.reason})`);
    throw e;
  }
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || v === null) throw new CheckpointError(file, 'unreadable (not a JSON object)');
  const d = v as OnDisk;
  if (d.version !== CHECKPOINT_VERSION)
    throw new CheckpointError(
      file,
      `version ${String(d.version)}, this aggregator reads version ${CHECKPOINT_VERSION}: run the release that wrote it`,
    );
  if (typeof d.extents !== 'object' || typeof d.summaries !== 'object' || !Array.isArray(d.ledger))
    throw new CheckpointError(file, 'extents, summaries or ledger missing');
  const summaries: Record<string, TraceSummary> = {};
  for (const [trace, b64] of Object.entries(d.summaries))
    summaries[trace] = decodeMessage<TraceSummary>('TraceSummary', Buffer.from(b64, 'base64'));
  return { version: d.version, written: d.written, extents: d.extents, summaries, ledger: d.ledger };
}

/** Writes the checkpoint into the store's state, replacing the last one durably. */
export function writeCheckpoint(store: TraceStore, cp: Omit<Checkpoint, 'version' | 'written'>): void {
  const d: OnDisk = {
    version: CHECKPOINT_VERSION,
    written: new Date().toISOString(),
    extents: cp.extents,
    summaries: Object.fromEntries(
      Object.entries(cp.summaries).map(([t, s]) => [
        t,
        Buffer.from(encodeMessage('TraceSummary', s)).toString('base64'),
      ]),
    ),
    ledger: cp.ledger,
  };
  store.saveState(CHECKPOINT_KEY, d);
}
