// Benchmark: the userspace side of `retrace collect -o FILE` (ring buffer records to bytes on
// disk, retis-compatible JSON lines), in CPU time per event, without the kernel in the loop:
// records of a live capture (record-capture.ts) are replayed, batch by batch as the ring
// delivered them, through the session's batch reader and the CLI's file writer. Compared in
// the same run with the generic path (an Event per record, stringifyEvent, a line at a time)
// and with the JS writer (a string per section; collect's path before issue 21, now the path of
// the records the native formatter hands back). Every path's file must be byte-identical to the
// generic one.
// RETRACE_BENCH_RECORDS=FILE keeps the capture in FILE (made once, as root) and replays it.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  RecordDecoder,
  RecordJsonWriter,
  RecordLines,
  batchReader,
  collectorSections,
  loadLayouts,
} from '@retrace/agent';
import { LineWriter } from '@retrace/cli';
import { stringifyEvent } from '@retrace/events';
import type { RecordBatch } from '@retrace/ebpf-loader';
import {
  COLLECTORS,
  SKB_SECTIONS,
  captureLive,
  loadCapture,
  recordBatches,
  saveCapture,
  type Capture,
} from './record-capture.js';

const SECONDS = Number(process.env['RETRACE_BENCH_SECONDS'] ?? 2);
const MAX_RECORDS = 300_000;
const ROUNDS = Number(process.env['RETRACE_BENCH_ROUNDS'] ?? 5);
const GOAL_US = 1;

type Path = (batches: RecordBatch[], out: string) => void;

function paths(c: Capture, share: { native: number; js: number }): Record<string, Path> {
  const layouts = loadLayouts();
  const sections = collectorSections(layouts, COLLECTORS, { skbSections: SKB_SECTIONS });
  const decoder = new RecordDecoder(layouts, c.probes, sections);
  const writer = new RecordJsonWriter(layouts, c.probes, sections);
  const fail = (e: Error): void => {
    throw e;
  };
  return {
    // An Event per record, written by the schema's writer: what every other output does.
    generic: (batches, out) => {
      const file = new LineWriter(out);
      for (const b of batches)
        for (let i = 0; i < b.count; i++)
          file.line(stringifyEvent(decoder.decode(b.view, b.buffer, b.offset(i), b.length(i))));
      file.close();
    },
    // The JS writer, a line at a time: a string per record from its sections' strings.
    js: (batches, out) => {
      const file = new LineWriter(out);
      for (const b of batches)
        for (let i = 0; i < b.count; i++) {
          const at = b.offset(i);
          const len = b.length(i);
          file.line(
            writer.json(b.view, b.buffer, at, len) ?? stringifyEvent(decoder.decode(b.view, b.buffer, at, len)),
          );
        }
      file.close();
    },
    // collect -o FILE now: the session's batch reader, the native formatter into one large
    // buffer, the lines handed to the file writer as bytes.
    native: (batches, out) => {
      const file = new LineWriter(out);
      const lines = new RecordLines(layouts, c.probes, sections, { writer, decoder }, (l) => file.lines(l, 0, l.count));
      const read = batchReader({
        decoder,
        lines,
        linesFromRecords: true,
        taps: [],
        onBadRecord: fail,
        onDelivered: () => {},
      });
      for (const b of batches) read(b);
      file.close();
      share.native = lines.written.native;
      share.js = lines.written.js;
    },
  };
}

/** CPU time (user, system) of one replay, in microseconds. */
function cpuOf(run: () => void): { user: number; system: number } {
  const t0 = process.cpuUsage();
  run();
  return process.cpuUsage(t0);
}

async function capture(): Promise<Capture> {
  const file = process.env['RETRACE_BENCH_RECORDS'];
  const saved = file ? loadCapture(file) : undefined;
  if (saved) return saved;
  const c = await captureLive(SECONDS, MAX_RECORDS);
  if (file) saveCapture(c, file);
  return c;
}

async function main(): Promise<void> {
  const c = await capture();
  const batches = recordBatches(c);
  const dir = mkdtempSync(join(tmpdir(), 'rt-cu-'));
  try {
    const share = { native: 0, js: 0 };
    const ps = paths(c, share);
    const names = Object.keys(ps);
    const best = new Map<string, { user: number; system: number }>();
    const outputs = new Map<string, Buffer>();
    // Alternating rounds; the best of each path (the least disturbed by other processes).
    for (let round = 0; round < ROUNDS; round++)
      for (const name of names) {
        const out = join(dir, `${name}.json`);
        const cpu = cpuOf(() => ps[name]?.(batches, out));
        const prev = best.get(name);
        if (!prev || cpu.user + cpu.system < prev.user + prev.system) best.set(name, cpu);
        if (round === 0) outputs.set(name, readFileSync(out));
        rmSync(out);
      }
    const reference = outputs.get('generic') ?? Buffer.alloc(0);
    const n = c.records;
    console.log(
      `collect's userspace side: ${n} records of a live iperf3 capture (${COLLECTORS.join(',')}; ${batches.length} ring batches) replayed to a file; CPU time, best of ${ROUNDS}`,
    );
    console.log('path      us/event  (user  system)  events/s CPU  bytes/event  ratio to generic  file');
    const us = (name: string): number => {
      const b = best.get(name);
      return b ? (b.user + b.system) / n : NaN;
    };
    for (const name of names) {
      const b = best.get(name) ?? { user: NaN, system: NaN };
      const same = outputs.get(name)?.equals(reference) ? 'identical' : 'DIFFERS';
      console.log(
        `${name.padEnd(8)}  ${us(name).toFixed(3).padStart(8)}  (${(b.user / n).toFixed(3)}  ${(b.system / n).toFixed(3).padStart(6)})  ${(1 / us(name)).toFixed(2).padStart(9)}M  ${((outputs.get(name)?.length ?? 0) / n).toFixed(0).padStart(11)}  ${(us('generic') / us(name)).toFixed(2).padStart(15)}x  ${same}`,
      );
    }
    console.log(
      `native path: ${share.native} lines written natively, ${share.js} in JS (records the formatter hands back); ${(us('js') / us('native')).toFixed(2)}x the JS writer`,
    );
    const identical = names.every((name) => outputs.get(name)?.equals(reference));
    const met = us('native') <= GOAL_US && identical;
    console.log(
      `goal (userspace <= ${GOAL_US} us CPU per event): ${met ? 'met' : 'missed'} (${us('native').toFixed(3)} us, ${identical ? 'files identical' : 'FILES DIFFER'})`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(`benchmark failed: ${(e as Error).message}`);
  process.exit(1);
});
