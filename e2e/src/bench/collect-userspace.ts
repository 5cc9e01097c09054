// Benchmark: the userspace side of `retrace collect -o FILE` (ring buffer records to bytes on
// disk, retis-compatible JSON lines), in CPU time per event, without the kernel in the loop:
// records of a live capture (record-capture.ts) are replayed, batch by batch as the ring
// delivered them, through the session's reading code and the CLI's file writer. Compared in the
// same run with the generic path (decode to an Event, stringifyEvent, one line at a time).
// RETRACE_BENCH_RECORDS=FILE keeps the capture in FILE (made once, as root) and replays it.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RecordDecoder, RecordJsonWriter, RecordLines, collectorSections, loadLayouts } from '@retrace/agent';
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
const ROUNDS = Number(process.env['RETRACE_BENCH_ROUNDS'] ?? 3);
const GOAL_US = 1;

type Path = (batches: RecordBatch[], out: string) => void;

function paths(c: Capture): Record<string, Path> {
  const layouts = loadLayouts();
  const sections = collectorSections(layouts, COLLECTORS, { skbSections: SKB_SECTIONS });
  const decoder = new RecordDecoder(layouts, c.probes, sections);
  const writer = new RecordJsonWriter(layouts, c.probes, sections);
  return {
    // An Event per record, written by the schema's writer: what every other output does.
    generic: (batches, out) => {
      const file = new LineWriter(out);
      for (const b of batches)
        for (let i = 0; i < b.count; i++)
          file.line(stringifyEvent(decoder.decode(b.view, b.buffer, b.offset(i), b.length(i))));
      file.close();
    },
    // Before issue 21: a JSON string per record from its sections' strings, a line at a time.
    strings: (batches, out) => {
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
    // Issue 21: the native formatter into one large buffer, handed to the writer in chunks.
    native: (batches, out) => {
      const file = new LineWriter(out);
      const lines = new RecordLines(layouts, c.probes, sections, { writer, decoder }, (l) => file.lines(l, 0, l.count));
      const fail = (e: Error): void => {
        throw e;
      };
      for (const b of batches) {
        lines.write(b, 0, b.count, fail);
        lines.flush();
      }
      file.close();
    },
  };
}

/** CPU time (user + system) of one replay, in microseconds. */
function cpuOf(run: () => void): number {
  const t0 = process.cpuUsage();
  run();
  const d = process.cpuUsage(t0);
  return d.user + d.system;
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
    const ps = paths(c);
    const names = Object.keys(ps);
    const best = new Map<string, number>();
    const bytes = new Map<string, number>();
    const outputs = new Map<string, Buffer>();
    // Alternating rounds; the best of each path (the least disturbed by other processes).
    for (let round = 0; round < ROUNDS; round++)
      for (const name of names) {
        const out = join(dir, `${name}.json`);
        const us = cpuOf(() => ps[name]?.(batches, out));
        best.set(name, Math.min(best.get(name) ?? Infinity, us));
        if (round === 0) {
          const content = readFileSync(out);
          bytes.set(name, content.length);
          outputs.set(name, content);
        }
        rmSync(out);
      }
    const reference = outputs.get('generic');
    console.log(
      `collect's userspace side: ${c.records} records of a live iperf3 capture (${COLLECTORS.join(',')}; ${batches.length} ring batches) replayed to a file, CPU time (user+system), best of ${ROUNDS}`,
    );
    console.log('path      us/event  events/s CPU   bytes/event  ratio to generic  output');
    const base = best.get('generic') ?? 1;
    for (const name of names) {
      const us = best.get(name) ?? NaN;
      const same = outputs.get(name)?.equals(reference ?? Buffer.alloc(0)) ? 'identical' : 'DIFFERS';
      console.log(
        `${name.padEnd(8)}  ${(us / c.records).toFixed(3).padStart(8)}  ${(c.records / (us / 1e6) / 1e3).toFixed(0).padStart(8)}k   ${((bytes.get(name) ?? 0) / c.records).toFixed(0).padStart(11)}  ${(base / us).toFixed(2).padStart(15)}x  ${same}`,
      );
    }
    const fastest = Math.min(...[...best.values()]) / c.records;
    console.log(
      `goal (userspace <= ${GOAL_US} us CPU per event): ${fastest <= GOAL_US ? 'met' : 'missed'} (${fastest.toFixed(3)} us)`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(`benchmark failed: ${(e as Error).message}`);
  process.exit(1);
});
