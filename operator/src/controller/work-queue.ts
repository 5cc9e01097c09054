// A reconcile queue keyed by object: a key queued many times is reconciled once; one key is
// never reconciled twice at the same time (a change during a run queues it again); failures
// are retried with per-key exponential backoff; `after` schedules a later look (a duration
// ending, a status refresh).
export class WorkQueue {
  private readonly queued = new Set<string>();
  private readonly running = new Set<string>();
  private readonly again = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, { timer: NodeJS.Timeout; due: number }>();
  private stopped = false;
  private active = 0;

  constructor(
    private readonly reconcile: (key: string) => Promise<void>,
    private readonly opts: {
      concurrency?: number;
      baseRetryMs?: number;
      maxRetryMs?: number;
      onError?: (key: string, e: unknown) => void;
    } = {},
  ) {}

  add(key: string): void {
    if (this.stopped) return;
    if (this.running.has(key)) {
      this.again.add(key);
      return;
    }
    this.queued.add(key);
    this.pump();
  }

  /**
   * Queues `key` in `ms`. The earliest request wins: a status refresh due in two seconds is not
   * put off by a duration ending in ten minutes (the reconcile then asks for the later one again).
   */
  after(key: string, ms: number): void {
    if (this.stopped) return;
    const due = Date.now() + Math.max(0, ms);
    const pending = this.timers.get(key);
    if (pending) {
      if (pending.due <= due) return;
      clearTimeout(pending.timer);
    }
    const timer = setTimeout(
      () => {
        this.timers.delete(key);
        this.add(key);
      },
      Math.max(0, ms),
    );
    timer.unref();
    this.timers.set(key, { timer, due });
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t.timer);
    this.timers.clear();
    this.queued.clear();
  }

  /** Resolves when nothing is queued or running (tests). */
  async idle(): Promise<void> {
    while (this.queued.size || this.running.size) await new Promise((r) => setTimeout(r, 5));
  }

  private pump(): void {
    const limit = this.opts.concurrency ?? 4;
    for (const key of this.queued) {
      if (this.active >= limit) return;
      if (this.running.has(key)) continue;
      this.queued.delete(key);
      this.running.add(key);
      this.active++;
      void this.run(key);
    }
  }

  private async run(key: string): Promise<void> {
    try {
      await this.reconcile(key);
      this.failures.delete(key);
    } catch (e) {
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      this.opts.onError?.(key, e);
      const wait = Math.min(this.opts.maxRetryMs ?? 60_000, (this.opts.baseRetryMs ?? 200) * 2 ** (n - 1));
      clearTimeout(this.timers.get(key)?.timer);
      this.timers.delete(key);
      this.after(key, wait);
    } finally {
      this.running.delete(key);
      this.active--;
      if (this.again.delete(key)) this.queued.add(key);
      if (!this.stopped) this.pump();
    }
  }
}
