// Attaches nftables trace messages to the packets retrace follows. See docs/nft.md: a trace is
// matched, in the same network namespace, to a followed packet with the same NAT-invariant
// fingerprint (fingerprint.ts), preferring the packet's last event before the trace's time,
// else its first event after it. Messages of one pass through a hook share an id; only the
// first carries the headers, so the others inherit its fingerprint.
import type { Event, SkbTracking } from '@retrace/events';
import { fingerprintFromNetwork } from '../../nft/fingerprint.js';
import type { NftTrace } from '../../nft/trace-message.js';
import { NFTRACE_TABLE_PREFIX } from '../../nft/nftrace-table.js';
import { UNKNOWN_HANDLE, type NftHandles } from './handles.js';

/** How far apart (kernel time) a trace and the packet event it is matched with may be. */
export const MATCH_WINDOW_NS = 1_000_000_000n;
const NOTES_PER_KEY = 16;

export interface PacketNote {
  ts: bigint;
  cpu: number;
  netns: number;
  tracking: SkbTracking;
  fingerprint: string;
}

interface Pending {
  trace: NftTrace;
  ts: bigint;
  cpu: number;
  netns: number;
  key: string;
}

export interface MatcherOptions {
  /** Verdict names that produce events (`all` for every one). */
  verdicts: ReadonlySet<string>;
  /** Emit traces no followed packet matched (without tracking); false when a filter is on. */
  emitUnmatched: boolean;
  emit: (ev: Event) => void;
  /** The table's and chain's handles, which trace messages do not carry (NftHandleCache). */
  handles?: (netns: number, family: string, table: string, chain: string) => NftHandles;
}

export interface MatcherStats {
  matched: number;
  unmatched: number;
  filtered: number;
}

export class NftMatcher {
  private readonly notes = new Map<string, PacketNote[]>();
  private readonly passes = new Map<string, { fp: string; ts: bigint }>();
  /** Traces waiting for their packet's first event after them, by key (checked per packet event). */
  private readonly pending = new Map<string, Pending[]>();
  private latest = 0n;
  readonly stats: MatcherStats = { matched: 0, unmatched: 0, filtered: 0 };

  constructor(private readonly opts: MatcherOptions) {}

  /** A followed packet was seen (any probe), with its fingerprint. */
  notePacket(n: PacketNote): void {
    const key = `${n.netns}|${n.fingerprint}`;
    let list = this.notes.get(key);
    if (!list) this.notes.set(key, (list = []));
    list.push(n);
    if (list.length > NOTES_PER_KEY) list.shift();
    if (n.ts > this.latest) this.latest = n.ts;
    const waiting = this.pending.get(key);
    if (waiting) {
      const still = waiting.filter((p) => {
        if (n.ts < p.ts || n.ts - p.ts > MATCH_WINDOW_NS) return true;
        this.resolve(p, n);
        return false;
      });
      if (still.length) this.pending.set(key, still);
      else this.pending.delete(key);
    }
  }

  /** A trace message at kernel time `ts` on `cpu`, from the namespace `netns`. */
  addTrace(trace: NftTrace, ts: bigint, cpu: number, netns: number): void {
    if (ts > this.latest) this.latest = ts;
    const passKey = `${netns}|${trace.id}`;
    let fp: string | undefined;
    if (trace.network) {
      fp = fingerprintFromNetwork(trace.network, trace.transport);
      if (fp) this.passes.set(passKey, { fp, ts });
    } else {
      fp = this.passes.get(passKey)?.fp;
    }
    // retrace's own nftrace table is how tracing is switched on, not a decision about the packet.
    if (
      trace.table.startsWith(NFTRACE_TABLE_PREFIX) ||
      (!this.opts.verdicts.has('all') && !this.opts.verdicts.has(trace.verdict))
    ) {
      this.stats.filtered++;
      return;
    }
    const p: Pending = { trace, ts, cpu, netns, key: `${netns}|${fp ?? ''}` };
    if (!fp) return this.resolve(p, undefined);
    const before = this.lastBefore(p.key, ts);
    if (before) return this.resolve(p, before);
    const waiting = this.pending.get(p.key);
    if (waiting) waiting.push(p);
    else this.pending.set(p.key, [p]);
  }

  /** Gives up on traces no packet event came for within the window (all of them at the end). */
  expire(all = false): void {
    for (const [key, waiting] of this.pending) {
      const still = waiting.filter((p) => {
        if (!all && this.latest - p.ts <= MATCH_WINDOW_NS) return true;
        this.resolve(p, undefined);
        return false;
      });
      if (still.length) this.pending.set(key, still);
      else this.pending.delete(key);
    }
    this.prune();
  }

  private lastBefore(key: string, ts: bigint): PacketNote | undefined {
    const list = this.notes.get(key);
    if (!list) return undefined;
    for (let i = list.length - 1; i >= 0; i--) {
      const n = list[i] as PacketNote;
      if (n.ts <= ts) return ts - n.ts <= MATCH_WINDOW_NS ? n : undefined;
    }
    return undefined;
  }

  private prune(): void {
    const horizon = this.latest - 4n * MATCH_WINDOW_NS;
    for (const [k, list] of this.notes) if ((list[list.length - 1]?.ts ?? 0n) < horizon) this.notes.delete(k);
    for (const [k, v] of this.passes) if (v.ts < horizon) this.passes.delete(k);
  }

  private resolve(p: Pending, note: PacketNote | undefined): void {
    if (!note && !this.opts.emitUnmatched) {
      this.stats.unmatched++;
      return;
    }
    if (note) this.stats.matched++;
    else this.stats.unmatched++;
    const t = p.trace;
    const handles = this.opts.handles?.(p.netns, t.family, t.table, t.chain);
    this.opts.emit(nftEvent(p, note, handles ?? { table: UNKNOWN_HANDLE, chain: UNKNOWN_HANDLE }));
  }
}

function nftEvent(p: Pending, note: PacketNote | undefined, handles: NftHandles): Event {
  const t = p.trace;
  const ev: Event = {
    common: { timestamp: p.ts, smp_id: p.cpu },
    kernel: { symbol: 'nft_trace', probe_type: 'netlink' },
  };
  if (note) ev['skb-tracking'] = note.tracking;
  ev.nft = {
    table_name: t.table,
    chain_name: t.chain,
    verdict: t.verdict,
    table_handle: handles.table,
    chain_handle: handles.chain,
    policy: t.policy,
    family: t.family,
  };
  if (t.verdictChain) ev.nft.verdict_chain_name = t.verdictChain;
  if (t.ruleHandle !== undefined) ev.nft.rule_handle = t.ruleHandle;
  ev.netns = { inum: p.netns };
  return ev;
}
