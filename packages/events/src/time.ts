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

/** An offset in ns (wall clock minus CLOCK_MONOTONIC) as the event format's seconds and nanoseconds. */
export function clockOffsetFromNs(offsetNs: bigint): ClockOffset {
  return { sec: offsetNs / NS, nsec: offsetNs % NS };
}

/** The time as retis prints it with --utc: `2025-03-18 13:25:46.691042` (UTC, microseconds). */
export function formatUtcText(monotonicNs: bigint, offset: ClockOffset): string {
  const iso = formatUtc(monotonicNs, offset); // YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ
  return `${iso.slice(0, 10)} ${iso.slice(11, 26)}`;
}
