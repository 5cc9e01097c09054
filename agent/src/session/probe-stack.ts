// --probe-stack (retis's): every probe takes a stack trace; a function seen in the stack of a
// reported event, that a collector can read (a struct sk_buff * within a kprobe's reach), gets a
// kprobe while the session runs. Packets are so followed back from the first probes: the ones
// before are reported from the next packet on. Stacks stay in events only where asked
// (--stack, a probe's /stack).
import type { Event } from '@retrace/events';

export interface ProbeStackOptions {
  /** Functions already probed (by their kernel name), never proposed again. */
  probed: Iterable<string>;
  /** Whether a function can be kprobed with a collector reading from it (false: skipped). */
  usable: (fn: string) => boolean;
  /** Keep every event's stack trace (--stack). */
  keepAll: boolean;
  /** `probe_type/symbol` of probes whose stacks are kept (`/stack`), as in events' kernel section. */
  keep: ReadonlySet<string>;
}

/** The function of a stack frame (`name+0xoff`, or `name+0xoff [module]`). */
export function frameFunction(frame: string): string | undefined {
  const plus = frame.indexOf('+');
  if (plus <= 0) return undefined;
  const name = frame.slice(0, plus);
  return /^[\w.]+$/.test(name) ? name : undefined;
}

export class ProbeStack {
  private readonly seen: Set<string>;
  /** Functions proposed, in order. */
  readonly added: string[] = [];

  constructor(private readonly opts: ProbeStackOptions) {
    this.seen = new Set(opts.probed);
  }

  /**
   * The new functions an event's stack names (each proposed once), and the event without its
   * stack unless that was asked for.
   */
  take(ev: Event): string[] {
    const k = ev.kernel;
    if (!k?.stack_trace) return [];
    const out: string[] = [];
    for (const frame of k.stack_trace) {
      const fn = frameFunction(frame);
      if (!fn || this.seen.has(fn)) continue;
      this.seen.add(fn);
      if (!this.opts.usable(fn)) continue;
      out.push(fn);
      this.added.push(fn);
    }
    if (!this.opts.keepAll && !this.opts.keep.has(`${k.probe_type}/${k.symbol}`)) delete k.stack_trace;
    return out;
  }
}
