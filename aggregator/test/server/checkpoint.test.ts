// The aggregator's checkpoint is a state document of the store, written through the store's one
// atomic write and read back before the store opens; one the previous version wrote still reads.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeMessage, type TraceSummary } from '@retrace/events';
import { TraceStore } from '../../src/store/index.js';
import type { LedgerEntryState } from '../../src/server/ack-ledger.js';
import { CheckpointError, checkpointPath, readCheckpoint, writeCheckpoint } from '../../src/server/checkpoint.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'retrace-checkpoint-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const summary = { trace: 't', events: 2n ** 62n, lost: 3n, drops: [] } as unknown as TraceSummary;
const ledger: LedgerEntryState[] = [
  { node: 'node-a', trace: 't', incarnation: 'run-1', acked: '41', counted: '42', unstored: { '42': [1, 2] } },
];
const extents = { t: [{ file: 'seg-00000001.rec', bytes: 4096 }] };

test('a checkpoint written through the store reads back whole, from the store directory, before the store opens', () => {
  expect(readCheckpoint(dir)).toBeUndefined();
  const store = TraceStore.open(dir);
  writeCheckpoint(store, { extents, summaries: { t: summary }, ledger });
  store.close();
  expect(checkpointPath(dir)).toBe(join(dir, '.state', 'checkpoint.json'));
  expect(readdirSync(join(dir, '.state'))).toEqual(['checkpoint.json']); // no temporary file left
  const cp = readCheckpoint(dir);
  expect(cp).toMatchObject({ version: 1, extents, ledger });
  expect(cp?.summaries['t']).toMatchObject({ trace: 't', events: 2n ** 62n, lost: 3n });
});

test('a checkpoint the previous version wrote is read', () => {
  mkdirSync(join(dir, '.state'));
  const old = {
    version: 1,
    written: '2026-12-01T10:00:00.000Z',
    extents,
    summaries: { t: Buffer.from(encodeMessage('TraceSummary', summary)).toString('base64') },
    ledger,
  };
  writeFileSync(checkpointPath(dir), JSON.stringify(old));
  const cp = readCheckpoint(dir);
  expect(cp).toMatchObject({ version: 1, written: old.written, extents, ledger });
  expect(cp?.summaries['t']).toMatchObject({ events: 2n ** 62n });
});

test('a damaged checkpoint, or one of another version, is a CheckpointError naming the file and why', () => {
  mkdirSync(join(dir, '.state'));
  const file = checkpointPath(dir);
  for (const [text, why] of [
    ['{"version": 1, "exte', /: unreadable \(/],
    ['null', /: unreadable \(not a JSON object\)/],
    ['{"version": 2}', /: version 2, this aggregator reads version 1: run the release that wrote it/],
    ['{"version": 1, "extents": {}}', /: extents, summaries or ledger missing/],
  ] as const) {
    writeFileSync(file, text);
    expect(() => readCheckpoint(dir)).toThrow(CheckpointError);
    expect(() => readCheckpoint(dir)).toThrow(why);
  }
  expect(existsSync(file)).toBe(true); // the aggregator sets it aside, not the reader
});
