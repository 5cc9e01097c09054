// A trace's limits on one node: at most so many events, for so long, at so many events/s. The
// rate budget is a token bucket refilled continuously, so bursts up to one second's worth pass.
import type { Limits } from '@retrace/events';

export type LimitVerdict = 'take' | 'over-budget' | 'max-events';

export class TraceLimits {
  private taken = 0n;
  private tokens: number;
  private last: number;

  constructor(
    private readonly limits: Limits | undefined,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = limits?.events_per_sec ?? 0;
    this.last = now();
  }

  get durationMs(): number {
    return this.limits?.duration_ms ?? 0;
  }

  /** Whether one more event may go out. */
  admit(): LimitVerdict {
    const max = this.limits?.max_events ?? 0n;
    if (max > 0n && this.taken >= max) return 'max-events';
    const rate = this.limits?.events_per_sec ?? 0;
    if (rate > 0) {
      const t = this.now();
      this.tokens = Math.min(rate, this.tokens + ((t - this.last) * rate) / 1000);
      this.last = t;
      if (this.tokens < 1) return 'over-budget';
      this.tokens -= 1;
    }
    this.taken++;
    return 'take';
  }

  /** The max-events limit is reached (no further event will be admitted). */
  get exhausted(): boolean {
    const max = this.limits?.max_events ?? 0n;
    return max > 0n && this.taken >= max;
  }
}
