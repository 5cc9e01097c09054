// The nft collector without kprobes: a netlink socket joined to nftables' trace group in every
// network namespace (new ones are picked up as they appear), the nftrace table where allowed,
// and the matcher that puts each trace into its packet's series. When the kernel has the
// sock:sk_data_ready tracepoint, a BPF program copies each message the moment nftables queues
// it (kernel time and CPU: exact placement); otherwise messages are read from the sockets and
// timed when they arrive.
import {
  NFNLGRP_NFTRACE,
  NETLINK_NETFILTER,
  NetlinkSocket,
  type BpfMap,
  type StructLayout,
} from '@retrace/ebpf-loader';
import type { Event } from '@retrace/events';
import { NftMatcher, type MatcherStats, type PacketNote } from './matcher.js';
import { NftHandleCache } from './handles.js';
import { listNamespaces, type NetnsRef } from './namespaces.js';
import {
  NFTRACE_HINT,
  addNftraceTable,
  hasNftraceRule,
  removeNftraceTable,
  removeStaleTables,
  NftraceTableError,
  type TableOwner,
} from '../../nft/nftrace-table.js';
import { parseTraceDatagram } from '../../nft/trace-message.js';

export interface NftCollectorOptions {
  verdicts: ReadonlySet<string>;
  /** Add (and remove) the nftrace table in every namespace. */
  allowSystemChanges: boolean;
  emitUnmatched: boolean;
  emit: (ev: Event) => void;
  /** Notes for the user (stderr). */
  note: (msg: string) => void;
  /** How often to look for new namespaces (ms). */
  scanMs?: number;
  /** Read trace messages (false when the __nft_trace_packet kprobe reports instead: tables only). */
  messages?: boolean;
}

interface Watched {
  ref: NetnsRef;
  socket: NetlinkSocket | undefined;
  table: boolean;
}

export class NftCollector {
  readonly matcher: NftMatcher;
  private readonly watched = new Map<number, Watched>();
  private readonly handles = new NftHandleCache((netns) => this.watched.get(netns)?.ref.path);
  private cookies: BpfMap | undefined;
  private scanTimer: NodeJS.Timeout | undefined;
  private overruns = 0;
  private namespacesSeen = 0;
  private stopped = false;

  constructor(private readonly opts: NftCollectorOptions) {
    this.matcher = new NftMatcher({
      verdicts: opts.verdicts,
      emitUnmatched: opts.emitUnmatched,
      emit: opts.emit,
      handles: (netns, family, table, chain) => this.handles.lookup(netns, family, table, chain),
    });
  }

  /** Kernel-timed messages: the BPF map of socket cookies the sk_data_ready program watches. */
  useKernelTimestamps(cookies: BpfMap): void {
    this.cookies = cookies;
    for (const w of this.watched.values()) if (w.socket) this.registerCookie(w.socket);
  }

  get kernelTimed(): boolean {
    return this.cookies !== undefined;
  }

  /** Tables must not outlive a crash of this process (a SIGKILL leaves them: the next start removes them). */
  private readonly onExit = (): void => this.stop();

  /**
   * Removes, in every network namespace, the nftrace tables of retrace processes that no longer
   * run (killed before they could remove them). Nothing when nft is not installed.
   */
  static removeStaleTables(): { netns: number; table: string; pid: number; owner: TableOwner }[] {
    const removed: { netns: number; table: string; pid: number; owner: TableOwner }[] = [];
    try {
      for (const ns of listNamespaces())
        for (const t of removeStaleTables(ns.path))
          removed.push({ netns: ns.inode, table: t.table, pid: t.owner.pid, owner: t.owner });
    } catch (e) {
      if (!(e instanceof NftraceTableError)) throw e; // no nft: no table of ours either
    }
    return removed;
  }

  start(): void {
    process.once('exit', this.onExit);
    for (const t of NftCollector.removeStaleTables())
      this.opts.note(`removed ${t.table} left by retrace pid ${t.pid}, which no longer runs (netns ${t.netns})`);
    const namespaces = listNamespaces();
    if (!this.opts.allowSystemChanges && !namespaces.some((ns) => hasNftraceRule(ns.path)))
      this.opts.note(NFTRACE_HINT);
    for (const ns of namespaces) this.watch(ns);
    this.scanTimer = setInterval(() => this.scan(), this.opts.scanMs ?? 1000);
    this.scanTimer.unref();
  }

  /** Picks up new namespaces and lets go of the ones that are gone (our socket alone keeps one alive). */
  scan(): void {
    if (this.stopped) return;
    const now = listNamespaces();
    const live = new Set(now.map((n) => n.inode));
    for (const ns of now) if (!this.watched.has(ns.inode)) this.watch(ns);
    const gone = [...this.watched].filter(([inode]) => !live.has(inode));
    for (const [inode, w] of gone) this.unwatch(inode, w);
    this.matcher.expire();
    // After expire: traces still pending from a namespace that is gone get its handles too.
    for (const [inode] of gone) this.handles.forget(inode);
  }

  private watch(ref: NetnsRef): void {
    let socket: NetlinkSocket | undefined;
    if (this.opts.messages !== false)
      try {
        socket = new NetlinkSocket(ref.path, NETLINK_NETFILTER, [NFNLGRP_NFTRACE], (datagrams, overruns) =>
          this.onDatagrams(ref.inode, datagrams, overruns),
        );
      } catch {
        return; // the namespace went away meanwhile
      }
    const w: Watched = { ref, socket, table: false };
    this.namespacesSeen++;
    this.watched.set(ref.inode, w);
    if (this.opts.allowSystemChanges) {
      try {
        addNftraceTable(ref.path);
        w.table = true;
      } catch (e) {
        this.opts.note(`nft: ${(e as Error).message}`);
      }
    }
    if (socket) {
      this.registerCookie(socket);
      socket.start();
    }
  }

  private registerCookie(socket: NetlinkSocket): void {
    if (!this.cookies) return;
    const key = Buffer.alloc(8);
    key.writeBigUInt64LE(socket.cookie());
    this.cookies.update(key, Buffer.from([1]));
  }

  private unwatch(inode: number, w: Watched): void {
    if (this.cookies && w.socket) {
      const key = Buffer.alloc(8);
      key.writeBigUInt64LE(w.socket.cookie());
      this.cookies.delete(key);
    }
    w.socket?.close();
    if (w.table) removeNftraceTable(w.ref.path);
    this.watched.delete(inode);
  }

  private onDatagrams(netns: number, datagrams: Buffer[], overruns: number): void {
    this.overruns += overruns;
    // Kernel-timed: the same messages already came through the ring buffer; only drain.
    if (this.kernelTimed || this.stopped) return;
    const now = process.hrtime.bigint(); // CLOCK_MONOTONIC, like bpf_ktime_get_ns
    for (const d of datagrams) for (const t of parseTraceDatagram(d)) this.matcher.addTrace(t, now, -1, netns);
  }

  /** A retrace_nft_msg record from the ring buffer (at least layout.size bytes). */
  onKernelMessage(view: DataView, buf: Buffer, at: number, layout: StructLayout): void {
    const f = (n: string): number => at + (layout.fields[n]?.offset ?? 0);
    const cap = Math.min(view.getUint32(f('capture_len'), true), layout.fields['msg']?.size ?? 0);
    const msg = Buffer.from(buf.subarray(f('msg'), f('msg') + cap));
    const ts = view.getBigUint64(f('timestamp'), true);
    const cpu = view.getUint32(f('cpu'), true);
    const netns = view.getUint32(f('netns_inum'), true);
    for (const t of parseTraceDatagram(msg)) this.matcher.addTrace(t, ts, cpu, netns);
  }

  notePacket(n: PacketNote): void {
    this.matcher.notePacket(n);
  }

  get stats(): MatcherStats & { overruns: number; namespaces: number; unknownHandles: number } {
    return {
      ...this.matcher.stats,
      overruns: this.overruns,
      namespaces: this.namespacesSeen,
      unknownHandles: this.handles.unknown,
    };
  }

  /** Reads what the sockets hold, resolves what is pending, removes tables, closes sockets. */
  stop(): void {
    if (this.stopped) return;
    process.off('exit', this.onExit);
    for (const w of this.watched.values()) w.socket?.read();
    this.stopped = true;
    if (this.scanTimer) clearInterval(this.scanTimer);
    this.matcher.expire(true);
    for (const [inode, w] of this.watched) this.unwatch(inode, w);
  }
}
