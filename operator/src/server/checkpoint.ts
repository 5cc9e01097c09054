// The aggregator's checkpoint: one file, replaced atomically and fsynced after the store was
// synced, holding what a restart needs to go on exactly where the acknowledgements stopped: the
// store's extent (appends after it are removed: the agents resend them), the summaries as of
// then, and the acknowledgement ledger.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { decodeMessage, encodeMessage, type TraceSummary } from '@retrace/events';
import type { LedgerEntryState } from './ack-ledger.js';

export const CHECKPOINT_VERSION = 1;

export interface Checkpoint {
  version: number;
  /** ISO time it was written (for people reading it). */
  written: string;
  extents: Record<string, { file: string; bytes: number }[]>;
  summaries: Record<string, TraceSummary>;
  ledger: LedgerEntryState[];
}

interface OnDisk {
  version: number;
  written: string;
  extents: Record<string, { file: string; bytes: number }[]>;
  /** TraceSummary protobuf, base64: bigints and all, as the wire has them. */
  summaries: Record<string, string>;
  ledger: LedgerEntryState[];
}

export const checkpointPath = (storeDir: string): string => join(storeDir, '.state', 'checkpoint.json');

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
  if (!existsSync(file)) return undefined;
  let d: OnDisk;
  try {
    d = JSON.parse(readFileSync(file, 'utf8')) as OnDisk;
  } catch (e) {
    throw new CheckpointError(file, `unreadable (${(e as Error).message})`);
  }
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

/** Writes the checkpoint: a temporary file, fsynced, renamed over the old one, directory fsynced. */
export function writeCheckpoint(storeDir: string, cp: Omit<Checkpoint, 'version' | 'written'>): void {
  const file = checkpointPath(storeDir);
  mkdirSync(dirname(file), { recursive: true });
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
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, JSON.stringify(d));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  const dfd = openSync(dirname(file), 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}
