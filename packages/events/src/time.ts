// Event timestamps are CLOCK_MONOTONIC ns; the startup event carries the offset to wall-clock time.
import type { ClockOffset, Event } from './gen/event.js';

const NS = 1_000_000_000n;

/** The monotonic -> wall-clock offset recorded by the startup event, if this is one. */
export function clockOffsetOf(ev: Event): ClockOffset | undefined {
  return ev.startup?.clock_monotonic_offset;
}

/** Wall-clock ns since the epoch of a monotonic timestamp. */
export function toWallClockNs(monotonicNs: bigint, offset: ClockOffset): bigint {
  return monotonicNs + offset.sec * NS + offset.nsec;
}

/** ISO-8601 UTC with nanoseconds, e.g. `2025-03-18T13:25:46.691042000Z`. */
export function formatUtc(monotonicNs: bigint, offset: ClockOffset): string {
  const wall = toWallClockNs(monotonicNs, offset);
  let sec = wall / NS;
  let ns = wall % NS;
  if (ns < 0n) {
    ns += NS;
    sec -= 1n;
  }
  const iso = new Date(Number(sec) * 1000).toISOString(); // YYYY-MM-DDTHH:MM:SS.000Z
  return `${iso.slice(0, 19)}.${ns.toString().padStart(9, '0')}Z`;
}

/**
 * Wall clock minus CLOCK_MONOTONIC (the clock of BPF timestamps), to about a microsecond.
 * Date.now() alone has whole milliseconds, enough to put two nodes' events in the wrong order; so
 * this watches for the wall clock's millisecond to turn and reads the monotonic clock on both sides
 * of that instant, keeping the narrowest of a few such brackets (a few ms of spinning, once).
 */
export function monotonicClockOffset(ticks = 3): ClockOffset {
  let best: { offset: bigint; width: bigint } | undefined;
  for (let i = 0; i < ticks; i++) {
    const start = Date.now();
    let before = process.hrtime.bigint();
    for (;;) {
      const now = Date.now();
      const after = process.hrtime.bigint();
      if (now !== start) {
        // The millisecond `now` began between `before` and `after`.
        const width = after - before;
        if (!best || width < best.width) best = { offset: BigInt(now) * 1_000_000n - (before + after) / 2n, width };
        break;
      }
      before = after;
    }
  }
  const offset = (best as { offset: bigint }).offset;
  return { sec: offset / NS, nsec: offset % NS };
}
