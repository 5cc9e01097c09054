// --ovs-enrich-flows: for each datapath flow a flow_lookup found, ask ovs-vswitchd what it is
// (`dpctl/get-flow ufid:...`) and which OpenFlow rules made it (`ofproto/detrace ufid:...`,
// OVS 3.4+), at most `rate` requests a second, each flow once while it lives (a cache keyed by
// ufid, checked against the flow's and its actions' addresses), and report the answer as an
// ovs-detrace event. Requests and flows older than OVS's idle flow timeout (10 s) are dropped.
import type { OvsDetrace } from '@retrace/events';
import { formatUfid } from './ufid.js';

/** What a flow_lookup said about the flow. */
export interface EnrichRequest {
  ufid: number[];
  flow: bigint;
  sf_acts: bigint;
}

export interface FlowEnricherOptions {
  /** Runs an ovs-appctl command on ovs-vswitchd: its text output. */
  run(method: string, params: string[]): Promise<string>;
  emit(info: OvsDetrace): void;
  /** Requests a second (--ovs-enrich-rate, default 20). */
  rate: number;
  /** ovs-vswitchd has ofproto/detrace (else only the datapath flow is reported). */
  detrace(): boolean;
  now?: () => number;
}

export interface EnrichStats {
  emitted: number;
  failed: number;
  /** Requests still waiting when enrichment stopped. */
  unsent: number;
  /** Requests dropped because their flow aged out before its turn. */
  expired: number;
}

/** OVS removes idle datapath flows after 10 s, and forgets what made them. */
const FLOW_AGE_MS = 10_000;
/** ofproto/detrace's pmd argument for the kernel datapath (no PMD thread). */
const PMD_ID_NULL = 2147483647;
/** Requests waiting at most (retis's channel size): a flood of new flows is not queued forever. */
const MAX_QUEUED = 100;

interface Queued extends EnrichRequest {
  key: string;
  at: number;
}

export const ufidKey = (ufid: readonly number[]): string => ufid.map((w) => w.toString(16)).join('-');

export class FlowEnricher {
  readonly stats: EnrichStats = { emitted: 0, failed: 0, unsent: 0, expired: 0 };
  private readonly queue: Queued[] = [];
  private readonly cache = new Map<string, { flow: bigint; sf_acts: bigint; used: number }>();
  private readonly now: () => number;
  private readonly gapMs: number;
  private nextAt = 0;
  private busy = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: FlowEnricherOptions) {
    this.now = opts.now ?? (() => performance.now());
    this.gapMs = 1000 / opts.rate;
  }

  request(r: EnrichRequest): void {
    if (this.stopped) return;
    const key = ufidKey(r.ufid);
    const cached = this.cache.get(key);
    if (cached && cached.flow === r.flow && cached.sf_acts === r.sf_acts) {
      cached.used = this.now();
      return;
    }
    // Same ufid, another flow: the old one was replaced under the same key.
    if (cached) this.cache.delete(key);
    const pending = this.queue.findIndex((q) => q.key === key);
    if (pending >= 0) this.queue.splice(pending, 1);
    if (this.queue.length >= MAX_QUEUED) {
      this.stats.failed++;
      return;
    }
    this.queue.push({ ...r, key, at: this.now() });
    this.schedule();
  }

  /** No more requests or events; those waiting are counted as unsent. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.stats.unsent = this.queue.length + (this.busy ? 1 : 0);
    this.queue.length = 0;
  }

  private schedule(): void {
    if (this.stopped || this.busy || this.timer || !this.queue.length) return;
    const wait = Math.max(0, this.nextAt - this.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.next();
    }, wait);
  }

  private expire(): void {
    const old = this.now() - FLOW_AGE_MS;
    for (const [k, v] of this.cache) if (v.used < old) this.cache.delete(k);
    while (this.queue.length && (this.queue[0]?.at ?? 0) < old) {
      this.queue.shift();
      this.stats.expired++;
    }
  }

  private async next(): Promise<void> {
    this.expire();
    const task = this.queue.shift();
    if (!task || this.stopped) return;
    this.busy = true;
    this.nextAt = this.now() + this.gapMs;
    try {
      await this.enrich(task);
    } finally {
      this.busy = false;
      this.schedule();
    }
  }

  private async enrich(task: Queued): Promise<void> {
    const ufid = `ufid:${formatUfid(task.ufid)}`;
    let dpflow: string;
    let ofpflows: string[] = [];
    try {
      dpflow = (await this.opts.run('dpctl/get-flow', [ufid])).trim();
      if (!dpflow) throw new Error('no such flow');
      if (this.opts.detrace()) {
        const out = await this.opts.run('ofproto/detrace', [ufid, `pmd=${PMD_ID_NULL}`]);
        // ovs-vswitchd has not linked the flow to its rules yet: ask again at the next turn.
        if (!out.trim() || out.startsWith('Cache was not found')) {
          if (!this.stopped) this.queue.unshift(task);
          return;
        }
        ofpflows = out.split('\n').filter((l) => l.length > 0);
      }
    } catch {
      // The flow went away before its turn, or ovs-vswitchd did not answer.
      if (!this.stopped) this.stats.failed++;
      return;
    }
    if (this.stopped) return;
    const info: OvsDetrace = { ufid: task.ufid, flow: task.flow, sf_acts: task.sf_acts, dpflow, ofpflows };
    this.cache.set(task.key, { flow: task.flow, sf_acts: task.sf_acts, used: this.now() });
    this.stats.emitted++;
    this.opts.emit(info);
  }
}
