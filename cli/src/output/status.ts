// The one-line live status on a terminal: events, rate, lost, probes attached.
export class StatusLine {
  private timer: NodeJS.Timeout | undefined;
  private lastEvents = 0;
  private lastAt = Date.now();

  constructor(
    private readonly read: () => { events: number; lost: number; probes: number },
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {}

  start(): void {
    if (!this.out.isTTY) return;
    this.timer = setInterval(() => this.render(), 1000);
    this.timer.unref();
  }

  private render(): void {
    const s = this.read();
    const now = Date.now();
    const rate = ((s.events - this.lastEvents) * 1000) / Math.max(1, now - this.lastAt);
    this.lastEvents = s.events;
    this.lastAt = now;
    this.out.write(`\r\x1b[K${s.events} events (${Math.round(rate)}/s), ${s.lost} lost, ${s.probes} probes attached`);
  }

  stop(): void {
    if (this.timer) {
      clearInterval(this.timer);
      this.out.write('\r\x1b[K');
    }
    this.timer = undefined;
  }
}
