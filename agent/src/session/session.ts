// A tracing session: loads the probe program with the chosen collectors, attaches every probe
// with the best mechanism, decodes records in the ring buffer callback and hands out Events.
import {
  BpfObject,
  KernelBtf,
  RingBufferReader,
  bpfObjectPath,
  probeFeatures,
  type BpfMap,
  type FeatureReport,
  type Link,
} from '@retrace/ebpf-loader';
import { stringifyEvent, type Event } from '@retrace/events';
import { chooseCollectors, type Collector } from '../collectors.js';
import { DropReasons } from '../decode/drop-reasons.js';
import { Kallsyms } from '../decode/kallsyms.js';
import { loadLayouts } from '../decode/layout.js';
import { CtDecoder } from '../decode/ct.js';
import { RecordDecoder } from '../decode/record.js';
import { RecordJsonWriter } from '../decode/record-json.js';
import { compileFilter, installFilter, type CompiledFilter } from '../filter/packet-filter.js';
import { compileMetaFilter, type CompiledMetaFilter } from '../filter/meta-compile.js';
import { planProbes, type PlannedProbe } from './plan.js';
import { NftCollector } from '../nft/nft-collector.js';
import { nftRecordTap } from '../nft/record-tap.js';
import { nftCheck } from '../nft/nft-options.js';
import { parseVerdicts } from '@retrace/spec';
import { isNftTraceProbe, planNftKprobe, verdictMask, type NftKprobePlan } from '../nft/nft-kprobe.js';
import { NftDecoder } from '../decode/nft.js';
import { OvsDecoder } from '../decode/ovs.js';
import { ovsActionName, planOvs } from '../ovs/ovs-plan.js';

export interface SessionOptions {
  collectors?: string[];
  probes?: string[];
  /** tcpdump expression deciding in the kernel which packets start being followed (-f). */
  filter?: string;
  /** retis meta filter on sk_buff fields (-m), e.g. `sk_buff.mark == 42`. */
  metaFilter?: string;
  /** Kernel stack on every probe (per probe: `/stack`). */
  stack?: boolean;
  /** Ring buffer bytes: a power of two, at least a page (default 8 MiB). */
  ringBytes?: number;
  /**
   * Bytes waiting in the ring before BPF wakes the reader (default: a quarter of the ring, at
   * most 256 KiB; 0 wakes on every record). Smaller remainders are drained every `drainMs`.
   */
  wakeupBytes?: number;
  drainMs?: number;
  /** skb sections to report (--skb-sections): meta, dataref, gso, packet; default all. */
  skbSections?: ReadonlySet<string>;
  features?: FeatureReport;
  /** Receives decoded events (give this, or onJson, or both). */
  onEvent?: (ev: Event) => void;
  /** Receives each event as a retis JSON line, made straight from the record (the fast path). */
  onJson?: (line: string) => void;
  /** A record that could not be decoded (counted; the session goes on). */
  onRecordError?: (err: Error) => void;
  /** nft verdicts that produce events (--nft-verdicts; default drop, accept). */
  nftVerdicts?: string;
  /** May change the system: the nft collector adds its nftrace table in every namespace. */
  allowSystemChanges?: boolean;
  /** Notes for the user (e.g. what nft tracing needs). */
  onNote?: (msg: string) => void;
  /**
   * How nft trace messages are timed without kprobes: `kernel` (sock:sk_data_ready, when the
   * kernel has it; the default) or `arrival` (what older kernels get; for tests).
   */
  nftTiming?: 'kernel' | 'arrival';
  /** --ovs-track: follow upcalls into ovs-vswitchd (USDT) and back to their execution. */
  ovsTrack?: boolean;
  /**
   * Namespace scoping, enforced in the kernel: only packets in these network namespaces (inode
   * numbers, as `stat -L /proc/PID/ns/net` gives) are reported or counted. Given, even empty,
   * the session is scoped for its whole life; setNetns() replaces the set. Absent: no scoping.
   */
  netns?: readonly number[];
}

export interface ProbeCounters {
  symbol: string;
  probeType: string;
  hits: number;
  lost: number;
}

export interface SessionCounts {
  delivered: number;
  lost: number;
  hits: number;
  badRecords: number;
  perProbe: ProbeCounters[];
  /** Packets still followed when the session stopped (set by stop(); their freeing point was not seen). */
  followed?: number;
}

/**
 * Plain kprobes (no kprobe-multi here) share one program that finds its probe by the function's
 * address (bpf_get_func_ip, 5.15+) when there are several: loading the program once per
 * function is what makes hundreds of kprobes slow.
 */
function sharedKprobes(
  probes: PlannedProbe[],
  own: PlannedProbe | undefined,
  kallsyms: () => Kallsyms,
): Map<PlannedProbe, bigint[]> | undefined {
  // Collectors' kprobes with a program of their own (nft, ovs) are not plain.
  const plain = probes.filter((p) => p.mechanism === 'kprobe' && !p.program && p !== own);
  if (plain.length < 2 || !KernelBtf.vmlinux().enumValues('bpf_func_id')?.has('BPF_FUNC_get_func_ip')) return undefined;
  const out = new Map<PlannedProbe, bigint[]>();
  for (const p of plain) {
    // A kprobe by name hits one of the functions of that name: any of them finds the probe.
    const addrs = kallsyms().addressesOf(p.target);
    if (addrs.length) out.set(p, addrs);
  }
  return out.size ? out : undefined;
}

/** Loads a copy of the probe object for one probe (its id in read-only data), sharing the maps. */
type PerTarget = (p: PlannedProbe, programs: string[], prepare?: (o: BpfObject) => void) => BpfObject;

/** Maps every per-probe load shares with the main object. */
const SHARED_MAPS = [
  'events',
  'probe_configs',
  'counters',
  'tracking',
  'skb_ids',
  'stacks',
  'kret_args',
  'netns_allow',
  'ovs_upcalls',
  'ovs_execs',
  'ovs_exec_pending',
  'ovs_exec_skbs',
  'ovs_inflight',
];

/** The value of a netns_allow entry (its presence is what counts). */
const NETNS_ALLOWED = Buffer.from([1]);
/** netns_allow's max_entries in probe.bpf.c. */
const NETNS_MAX = 1024;

/** Network namespace inode numbers for netns_allow: u32s, at most NETNS_MAX distinct ones. */
function checkNetns(inums: readonly number[]): number[] {
  const out = [...new Set(inums)];
  for (const n of out)
    if (!Number.isInteger(n) || n <= 0 || n > 0xffffffff)
      throw new RangeError(`netns: ${n} is not a network namespace inode number (an integer from 1 to 2^32-1)`);
  if (out.length > NETNS_MAX)
    throw new RangeError(`netns: ${out.length} namespaces, at most ${NETNS_MAX} are supported`);
  return out;
}

export class TracingSession {
  /** The probes attached (wildcard matches the kernel refused are left out, with a note). */
  probes: PlannedProbe[];
  /** Wildcard matches the kernel refused to probe, and its reason (reported per probe by agents). */
  refusedProbes: { probe: string; reason: string }[] = [];
  readonly collectors: Set<Collector>;
  readonly skippedCollectors: { name: Collector; reason: string }[];
  private readonly objects: BpfObject[] = [];
  private readonly links: Link[] = [];
  private reader: RingBufferReader | undefined;
  private delivered = 0;
  private badRecords = 0;
  private gcTimer: NodeJS.Timeout | undefined;
  private drainTimer: NodeJS.Timeout | undefined;
  private wakeupBytes = 0;
  private verdicts: ReadonlySet<string> = new Set();
  private nft: NftCollector | undefined;
  private nftKprobe: NftKprobePlan | undefined;
  /** The compiled -f filter, if any (for reporting). */
  filter: CompiledFilter | undefined;
  metaFilter: CompiledMetaFilter | undefined;
  /** Plain kprobes served by one program, by function address (undefined: a load each). */
  private kprobeIds: Map<PlannedProbe, bigint[]> | undefined;
  /** Milliseconds spent attaching every probe (programs loaded, links made). */
  attachMs = 0;
  private stopped = false;
  /** The network namespaces a scoped session may see (undefined: not scoped). */
  private netnsScope: Set<number> | undefined;

  private constructor(
    probes: PlannedProbe[],
    collectors: Set<Collector>,
    skipped: { name: Collector; reason: string }[],
  ) {
    this.probes = probes;
    this.collectors = collectors;
    this.skippedCollectors = skipped;
  }

  /** Plans, loads and attaches; on any failure everything already loaded is released. */
  static start(opts: SessionOptions): TracingSession {
    const features = opts.features ?? probeFeatures();
    const { enabled, skipped } = chooseCollectors(opts.collectors ?? ['auto'], nftCheck(!!opts.allowSystemChanges));
    // nft traces are matched to followed packets by their bytes, in their namespace.
    if (enabled.has('nft')) for (const c of ['skb-tracking', 'skb', 'ns'] as const) enabled.add(c);
    const verdicts = parseVerdicts(opts.nftVerdicts);
    // A probe on __nft_trace_packet (retis's nft-dropmon) is the nft collector's own.
    const nftSpecs = enabled.has('nft') ? (opts.probes ?? []).filter(isNftTraceProbe) : [];
    const userProbes = (opts.probes ?? []).filter((p) => !nftSpecs.includes(p));
    const probes = planProbes(userProbes, enabled, features, !!opts.stack);
    const nftKprobe = enabled.has('nft')
      ? planNftKprobe(features, probes.length, !!opts.stack || nftSpecs.some((p) => p.endsWith('/stack')))
      : undefined;
    if (nftKprobe) probes.push(nftKprobe.probe);
    if (opts.ovsTrack && !enabled.has('ovs'))
      opts.onNote?.(
        `--ovs-track does nothing: the ovs collector is not running (${skipped.find((x) => x.name === 'ovs')?.reason ?? 'not in -c'})`,
      );
    if (enabled.has('ovs')) {
      const ovs = planOvs(features, probes.length, { track: !!opts.ovsTrack, stack: !!opts.stack });
      probes.push(...ovs.probes);
      for (const n of ovs.notes) opts.onNote?.(n);
    }
    const filter = opts.filter ? compileFilter(opts.filter) : undefined;
    const meta = opts.metaFilter ? compileMetaFilter(opts.metaFilter) : undefined;
    const s = new TracingSession(probes, enabled, skipped);
    s.verdicts = verdicts;
    s.nftKprobe = nftKprobe;
    s.filter = filter;
    s.metaFilter = meta;
    if (opts.netns) s.netnsScope = new Set(checkNetns(opts.netns));
    const ring = opts.ringBytes ?? 8 << 20;
    s.wakeupBytes = opts.wakeupBytes ?? Math.min(ring / 4, 256 << 10);
    const uninstall = installFilter(filter, meta);
    try {
      s.load(opts, features);
    } catch (e) {
      s.release();
      throw e;
    } finally {
      uninstall();
    }
    return s;
  }

  private rodata(obj: BpfObject, cookie: boolean, packet: boolean): void {
    const c = this.collectors;
    obj.setGlobals({
      wakeup_bytes: this.wakeupBytes,
      filter_packet: !!this.filter,
      filter_meta: !!this.metaFilter,
      filter_netns: !!this.netnsScope,
      col_tracking: c.has('skb-tracking'),
      col_drop: c.has('skb-drop'),
      col_skb: c.has('skb'),
      col_packet: c.has('skb') && packet,
      col_dev: c.has('dev'),
      col_ns: c.has('ns'),
      col_ct: c.has('ct'),
      ovs_filtered: !!this.filter || !!this.metaFilter || !!this.netnsScope,
      use_cookie: cookie,
    });
  }

  private load(opts: SessionOptions, features: FeatureReport): void {
    const started = performance.now();
    let symbols: Kallsyms | undefined;
    const kallsymsOnce = (): Kallsyms => (symbols ??= new Kallsyms());
    this.kprobeIds = sharedKprobes(this.probes, this.nftKprobe?.probe, kallsymsOnce);
    const path = bpfObjectPath('probe');
    const layouts = loadLayouts(path);
    const cookie = features.raw_tp_cookie.available;
    const sections = opts.skbSections ?? new Set(['meta', 'dataref', 'gso', 'packet']);
    const packet = sections.has('packet');
    const main = BpfObject.open(path);
    this.objects.push(main);
    this.rodata(main, cookie, packet);
    if (opts.ringBytes) main.setMapMaxEntries('events', opts.ringBytes);
    const mainProgs = new Set<string>();
    for (const p of this.probes) {
      if (p.mechanism === 'raw_tp_cookie') mainProgs.add(`probe_raw_tp_${p.nargs}`);
      if (p.mechanism === 'kprobe_multi') mainProgs.add('probe_kprobe_multi');
      if (p.mechanism === 'kretprobe_multi')
        ['probe_kretprobe_multi_entry', 'probe_kretprobe_multi'].forEach((x) => mainProgs.add(x));
      if (p.mechanism === 'usdt') mainProgs.add(p.program ?? 'probe_usdt');
      if (this.kprobeIds?.has(p)) mainProgs.add('probe_kprobe_ip');
    }
    if (this.collectors.has('nft') && !this.nftKprobe && opts.nftTiming !== 'arrival') mainProgs.add('nft_trace_ready');
    main.loadOnly([...mainProgs]);
    if (this.netnsScope) {
      const allow = main.map('netns_allow');
      for (const inum of this.netnsScope) allow.update(inum, NETNS_ALLOWED);
    }
    if (this.kprobeIds) {
      const ids = main.map('kprobe_ids');
      for (const [p, addrs] of this.kprobeIds) {
        const v = Buffer.alloc(4);
        v.writeUInt32LE(p.id);
        for (const addr of addrs) {
          const k = Buffer.alloc(8);
          k.writeBigUInt64LE(addr);
          ids.update(k, v);
        }
      }
    }

    const configs = main.map('probe_configs');
    for (const p of this.probes) {
      const v = Buffer.alloc(layouts.probeConfig.size);
      v.writeUInt8(p.skbArg === undefined ? 0 : p.skbArg + 1, layouts.probeConfig.fields['skb_arg']?.offset ?? 0);
      v.writeUInt8(
        p.reasonArg === undefined ? 0 : p.reasonArg + 1,
        layouts.probeConfig.fields['reason_arg']?.offset ?? 1,
      );
      v.writeUInt8(p.flags, layouts.probeConfig.fields['flags']?.offset ?? 2);
      configs.update(p.id, v);
    }

    const perTarget: PerTarget = (p, programs, prepare) => {
      const o = BpfObject.open(path, { name: `probe_${p.id}` });
      this.objects.push(o);
      this.rodata(o, false, packet);
      o.setGlobals({ rodata_probe_id: p.id, rodata_nargs: p.nargs });
      for (const m of SHARED_MAPS) o.reuseMap(m, main.map(m));
      prepare?.(o);
      o.loadOnly(programs);
      return o;
    };

    const multi = (mech: string) => this.probes.filter((p) => p.mechanism === mech);
    const refused: { probe: PlannedProbe; why: string }[] = [];
    for (const p of this.probes) {
      try {
        this.attachOne(p, main, perTarget);
      } catch (e) {
        // A function a wildcard matched that the kernel will not probe (blacklisted) is skipped.
        if (!p.spec.includes('*') || p.mechanism.endsWith('_multi')) throw e;
        refused.push({ probe: p, why: (e as Error).message });
      }
    }
    if (refused.length) {
      this.probes = this.probes.filter((p) => !refused.some((r) => r.probe === p));
      this.refusedProbes = refused.map((r) => ({ probe: `${r.probe.kind}:${r.probe.symbol}`, reason: r.why }));
      const names = refused.map((r) => r.probe.symbol);
      opts.onNote?.(
        `${refused.length} wildcard match(es) could not be attached and were skipped: ${names.slice(0, 5).join(', ')}` +
          `${names.length > 5 ? ', ...' : ''} (first error: ${refused[0]?.why ?? ''})`,
      );
    }
    const kmulti = multi('kprobe_multi');
    if (kmulti.length)
      this.links.push(
        main.program('probe_kprobe_multi').attachKprobeMulti(
          kmulti.map((p) => p.target),
          { cookies: kmulti.map((p) => BigInt(p.id)) },
        ),
      );
    const krmulti = multi('kretprobe_multi');
    if (krmulti.length) {
      const syms = krmulti.map((p) => p.target);
      const cookies = krmulti.map((p) => BigInt(p.id));
      this.links.push(main.program('probe_kretprobe_multi_entry').attachKprobeMulti(syms, { cookies }));
      this.links.push(main.program('probe_kretprobe_multi').attachKprobeMulti(syms, { retprobe: true, cookies }));
    }

    this.attachMs = performance.now() - started;

    const kallsyms = this.probes.some((p) => p.flags & 1) ? kallsymsOnce() : undefined;
    const stacks = main.map('stacks');
    const stackOf = (id: number): string[] | undefined => {
      if (!kallsyms || id < 0) return undefined;
      const raw = stacks.lookup(id);
      if (!raw) return undefined;
      const frames: string[] = [];
      for (let off = 0; off + 8 <= raw.length; off += 8) {
        const addr = raw.readBigUInt64LE(off);
        if (addr === 0n) break;
        frames.push(kallsyms.symbolize(addr));
      }
      return frames;
    };
    const identities = this.probes.map((p) => ({
      symbol: p.symbol,
      probeType: p.probeType,
      ...(p.usdt ? { path: p.path ?? p.usdt.binary } : {}),
    }));
    const reasons = new DropReasons();
    const ct = this.collectors.has('ct') ? new CtDecoder(layouts.ct, layouts.ctConn, layouts.ctTuple) : undefined;
    const nftPart = this.nftKprobe ? new NftDecoder(layouts.nft) : undefined;
    const parts = {
      ct,
      nft: nftPart,
      ovs: this.collectors.has('ovs') ? new OvsDecoder(layouts.ovs, ovsActionName()) : undefined,
    };
    const decoder = new RecordDecoder(layouts.event, identities, reasons, stackOf, sections, parts);
    const jsonWriter = new RecordJsonWriter(layouts.event, identities, reasons, stackOf, sections, parts);
    const { onEvent, onJson, onRecordError } = opts;
    const nft = this.collectors.has('nft') ? this.startNft(opts, main) : undefined;
    // Without the kprobe, nft verdicts come as their own records and are matched to packets.
    const tap = nft && !this.nftKprobe ? nftRecordTap(layouts.event, layouts.nftMsg, nft) : undefined;
    this.reader = new RingBufferReader(main.map('events'), (batch) => {
      for (let i = 0; i < batch.count; i++) {
        const at = batch.offset(i);
        const len = batch.length(i);
        try {
          if (tap?.(batch.view, batch.buffer, at, len)) continue;
          // The JSON fast path when only lines are wanted; the decoder for events (and USDT).
          const line = onJson ? jsonWriter.json(batch.view, batch.buffer, at, len) : undefined;
          const ev = line === undefined || onEvent ? decoder.decode(batch.view, batch.buffer, at, len) : undefined;
          if (onJson) onJson(line ?? stringifyEvent(ev as Event));
          if (ev && onEvent) onEvent(ev);
        } catch (e) {
          this.badRecords++;
          onRecordError?.(e as Error);
          continue;
        }
        this.delivered++;
      }
    }).start();
    if (this.wakeupBytes > 0) {
      const reader = this.reader;
      this.drainTimer = setInterval(() => reader.consume(), opts.drainMs ?? 20);
    }
    this.startTrackingGc(main.map('tracking'));
  }

  /** Attaches one probe that has its own program or link (multi probes attach together). */
  private attachOne(p: PlannedProbe, main: BpfObject, perTarget: PerTarget): void {
    if (p.program && p.mechanism !== 'usdt') return this.attachOvsKernel(p, perTarget);
    switch (p.mechanism) {
      case 'raw_tp_cookie':
        this.links.push(
          main.program(`probe_raw_tp_${p.nargs}`).attachRawTracepoint(p.target, { cookie: BigInt(p.id) }),
        );
        break;
      case 'raw_tp': {
        const o = perTarget(p, [`probe_raw_tp_${p.nargs}`]);
        this.links.push(o.program(`probe_raw_tp_${p.nargs}`).attachRawTracepoint(p.target));
        break;
      }
      case 'kprobe': {
        const nk = this.nftKprobe;
        if (nk && p === nk.probe) {
          const o = perTarget(p, ['probe_nft_kprobe'], (obj) =>
            obj.setGlobals({
              col_nft_kprobe: true,
              nft_kprobe_layout: nk.layout,
              nft_verdicts_mask: verdictMask(this.verdicts),
            }),
          );
          this.links.push(o.program('probe_nft_kprobe').attachKprobe(p.target));
          break;
        }
        if (this.kprobeIds?.has(p)) {
          this.links.push(main.program('probe_kprobe_ip').attachKprobe(p.target));
          break;
        }
        const o = perTarget(p, ['probe_kprobe']);
        this.links.push(o.program('probe_kprobe').attachKprobe(p.target));
        break;
      }
      case 'kretprobe': {
        const o = perTarget(p, ['probe_kretprobe_entry', 'probe_kretprobe']);
        this.links.push(o.program('probe_kretprobe_entry').attachKprobe(p.target));
        this.links.push(o.program('probe_kretprobe').attachKprobe(p.target, { retprobe: true }));
        break;
      }
      case 'fentry':
      case 'fexit': {
        const prog = p.mechanism === 'fentry' ? 'probe_fentry' : 'probe_fexit';
        const o = perTarget(p, [prog], (obj) => obj.program(prog).setAttachTarget(p.target));
        this.links.push(o.program(prog).attachTracing());
        break;
      }
      case 'usdt':
        if (p.usdt)
          this.links.push(
            main
              .program(p.program ?? 'probe_usdt')
              .attachUsdt(p.usdt.binary, p.usdt.provider, p.usdt.name, { cookie: BigInt(p.id) }),
          );
        break;
      default:
        break;
    }
  }

  /** The ovs collector's kernel programs: one load each, writing records with an ovs part. */
  private attachOvsKernel(p: PlannedProbe, perTarget: PerTarget): void {
    const program = p.program ?? '';
    if (p.ovsKret !== undefined) {
      const kret = p.ovsKret;
      const o = perTarget(p, ['ovs_kret_entry', 'ovs_kret_return'], (obj) =>
        obj.setGlobals({ col_ovs: true, ovs_kret_type: kret }),
      );
      this.links.push(o.program('ovs_kret_entry').attachKprobe(p.target));
      this.links.push(o.program('ovs_kret_return').attachKprobe(p.target, { retprobe: true }));
      return;
    }
    const o = perTarget(p, [program], (obj) => obj.setGlobals({ col_ovs: true }));
    this.links.push(o.program(program).attachRawTracepoint(p.target));
  }

  /** The nft collector: sockets in every namespace, kernel-timed when sk_data_ready exists. */
  private startNft(opts: SessionOptions, main: BpfObject): NftCollector {
    const { onEvent, onJson } = opts;
    const nft = new NftCollector({
      verdicts: this.verdicts,
      allowSystemChanges: !!opts.allowSystemChanges,
      // A packet retrace does not follow (filtered out, out of scope) must not show up through its verdicts.
      emitUnmatched: !this.filter && !this.metaFilter && !this.netnsScope,
      emit: (ev) => {
        if (onJson) onJson(stringifyEvent(ev));
        if (onEvent) onEvent(ev);
        this.delivered++;
      },
      note: (m) => opts.onNote?.(m),
      messages: !this.nftKprobe,
    });
    this.nft = nft;
    if (this.nftKprobe || opts.nftTiming === 'arrival') {
      nft.start();
      return nft;
    }
    try {
      this.links.push(main.program('nft_trace_ready').attachRawTracepoint('sk_data_ready'));
      nft.useKernelTimestamps(main.map('nft_sockets'));
    } catch {
      opts.onNote?.(
        'nft: this kernel has no sock:sk_data_ready tracepoint; verdicts are timed when retrace reads them (less exact placement)',
      );
    }
    nft.start();
    return nft;
  }

  /** nft collector statistics (matched, unmatched, filtered, overruns), when it runs. */
  nftStats(): NftCollector['stats'] | undefined {
    return this.nftKprobe ? undefined : this.nft?.stats;
  }

  /**
   * Replaces the network namespaces a scoped session (started with `netns`) may see, e.g. as
   * pods come and go. Namespaces leaving the scope are removed before new ones are added: while
   * the map changes, the kernel lets through no namespace that is in neither set.
   */
  setNetns(inums: readonly number[]): void {
    if (!this.netnsScope)
      throw new Error('setNetns: the session was started without netns scoping (SessionOptions.netns)');
    const main = this.objects[0];
    if (this.stopped || !main?.loaded) throw new Error('setNetns: the session is stopped');
    const next = new Set(checkNetns(inums));
    const allow = main.map('netns_allow');
    const stale: number[] = [];
    for (const k of allow.keys()) {
      const inum = k.readUInt32LE(0);
      if (!next.has(inum)) stale.push(inum);
    }
    for (const inum of stale) allow.delete(inum);
    for (const inum of next) allow.update(inum, NETNS_ALLOWED);
    this.netnsScope = next;
  }

  /** Forgets tracking entries not seen for 60 s (packets whose freeing point was missed). */
  private startTrackingGc(tracking: BpfMap): void {
    const MAX_AGE = 60_000_000_000n;
    this.gcTimer = setInterval(() => {
      const now = process.hrtime.bigint();
      const stale: Buffer[] = [];
      for (const [k, v] of tracking.lookupAll()) if (now - v.readBigUInt64LE(16) > MAX_AGE) stale.push(k);
      if (stale.length) tracking.deleteBatch(stale);
    }, 5000);
    this.gcTimer.unref();
  }

  /** Delivers what is queued now; returns how many records. */
  drain(): number {
    return this.reader?.consume() ?? 0;
  }

  /** How full the kernel ring buffer is (0..1): near 1, events are about to be lost. */
  ringFill(): number {
    const st = this.reader?.stats();
    return st && st.size > 0 && st.pendingBytes !== undefined ? st.pendingBytes / st.size : 0;
  }

  counts(): SessionCounts {
    const main = this.objects[0];
    const perProbe: ProbeCounters[] = [];
    let hits = 0;
    let lost = 0;
    if (main?.loaded && !this.stopped) {
      const counters = main.map('counters');
      for (const p of this.probes) {
        let h = 0;
        let l = 0;
        for (const v of counters.lookupPerCpu(p.id) ?? []) {
          h += Number(v.readBigUInt64LE(0));
          l += Number(v.readBigUInt64LE(8));
        }
        hits += h;
        lost += l;
        perProbe.push({ symbol: p.symbol, probeType: p.probeType, hits: h, lost: l });
      }
      this.lastCounts = { delivered: this.delivered, lost, hits, badRecords: this.badRecords, perProbe };
    }
    return this.lastCounts ?? { delivered: this.delivered, lost: 0, hits: 0, badRecords: this.badRecords, perProbe };
  }

  private lastCounts: SessionCounts | undefined;

  /** Detaches every probe (no new events), delivers what is left, then frees everything. */
  stop(): SessionCounts {
    if (this.stopped) return this.counts();
    for (const l of this.links) l.close();
    this.drain();
    this.nft?.stop();
    const final = this.counts();
    const tracking = this.objects[0]?.loaded ? this.objects[0].map('tracking') : undefined;
    if (tracking && this.collectors.has('skb-tracking')) {
      let n = 0;
      const keys = tracking.keys();
      while (!keys.next().done) n++;
      final.followed = n;
    }
    this.release();
    return final;
  }

  private release(): void {
    this.nft?.stop();
    if (this.gcTimer) clearInterval(this.gcTimer);
    if (this.drainTimer) clearInterval(this.drainTimer);
    this.reader?.close();
    this.reader = undefined;
    for (const l of this.links) l.close();
    for (const o of this.objects.reverse()) o.close();
    this.objects.length = 0;
    this.stopped = true;
  }
}
