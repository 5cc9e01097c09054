// skb tracking ids as retis prints them: `(first-seen timestamp << 64) | orig_head` in hex.
import type { SkbTracking } from './gen/event.js';

/** The timestamp's hex followed by exactly 16 hex digits of orig_head. */
export function trackingId(t: SkbTracking): string {
  return t.timestamp.toString(16) + BigInt.asUintN(64, t.orig_head).toString(16).padStart(16, '0');
}

/** Same packet (same data buffer, first seen at the same time); clones share it, see `sameSkb`. */
export function sameSeries(a: SkbTracking, b: SkbTracking): boolean {
  return a.orig_head === b.orig_head && a.timestamp === b.timestamp;
}

/** Same series and same skb (tells clones apart). */
export function sameSkb(a: SkbTracking, b: SkbTracking): boolean {
  return sameSeries(a, b) && a.skb === b.skb;
}
