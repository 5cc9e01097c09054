// A tracing session: loads the probe program with the chosen collectors, attaches every probe
// with the best mechanism, decodes records in the ring buffer callback and hands out Events.
// Collectors take part through their interface (collectors/collector.ts); none is named here.
import { RingBufferReader, bpfObjectPath, probeFeatures, type Link } from '@retrace/ebpf-loader';
import { stringifyEvent, type Event } from '@retrace/events';
import type { RunningCollector, SessionPlan } from '../collectors/collector.js';
import { chooseCollectors, collectorCheck, withNeeds } from '../collectors/choose.js';
import { collectorSections } from '../collectors/sections.js';
import { REGISTRY, type CollectorName } from '../collectors/index.js';
import { Kallsyms } from '../decode/kallsyms.js';
import { ProbeFlag, loadLayouts } from '../decode/layout.js';
import { RecordDecoder } from '../decode/record.js';
import { RecordJsonWriter } from '../decode/record-json.js';
import { RecordLines, type JsonLinesSink } from '../decode/record-lines.js';
import { batchReader } from './batch-reader.js';
import { compileFilter, filterOptions, installFilter, type CompiledFilter } from '../filter/packet-filter.js';
import { compileMetaFilter, type CompiledMetaFilter } from '../filter/meta-compile.js';
import { MAPS, STRUCTS, type ProbeGlobals } from '../gen/probe-skeleton.js';
import { attachMulti, attachOne, mainPrograms, sharedKprobes, type PerTarget } from './attach.js';
import type { ProbeCounters, SessionCounts, SessionOptions } from './options.js';
import { planProbes, type PlannedProbe } from './plan.js';
import { ProbeObject } from './probe-object.js';
import { ProbeStack } from './probe-stack.js';
import { PROBE_STACK_NEEDS_FILTER, ProbeStackError, probeStackNeedsKprobes } from '../errors.js';
import { probeTypeName } from '../probes/mechanism.js';
import { resolveProbe } from '../probes/resolve.js';
import { parseProbe } from '@retrace/spec';

export type { SessionOptions, SessionCounts, ProbeCounters } from './options.js';

/** The value of a netns_allow entry (its presence is what counts). */
const NETNS_ALLOWED = Buffer.from([1]);
const NETNS_MAX = MAPS.netns_allow.maxEntries;

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

/** The older interface: one string per line. */
function linesAsStrings(onJson: (line: string) => void): JsonLinesSink {
  return ({ buf, ends, count }) => {
    for (let i = 0; i < count; i++) onJson(buf.toString('utf8', i ? ends[i - 1] : 0, (ends[i] as number) - 1));
  };
}

export class TracingSession {
  /** The probes attached (wildcard matches the kernel refused are left out, with a note). */
  probes: PlannedProbe[];
  /** Wildcard matches the kernel refused to probe, and its reason (reported per probe by agents). */
  refusedProbes: { probe: string; reason: string }[] = [];
  readonly collectors: Set<CollectorName>;
  readonly skippedCollectors: { name: CollectorName; reason: string }[];
  private readonly objects: ProbeObject[] = [];
  private readonly links: Link[] = [];
  private running: RunningCollector[] = [];
  private reader: RingBufferReader | undefined;
  private delivered = 0;
  private badRecords = 0;
  private drainTimer: NodeJS.Timeout | undefined;
  private wakeupBytes = 0;
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
  private lastCounts: SessionCounts | undefined;
  /** --probe-stack: what adds probes at runtime (undefined without it). */
  private probeStack: { stack: ProbeStack; add: (fn: string) => void } | undefined;

  private constructor(
    probes: PlannedProbe[],
    collectors: Set<CollectorName>,
    skipped: { name: CollectorName; reason: string }[],
  ) {
    this.probes = probes;
    this.collectors = collectors;
    this.skippedCollectors = skipped;
  }

  /** Plans, loads and attaches; on any failure everything already loaded is released. */
  static start(opts: SessionOptions): TracingSession {
    const features = opts.features ?? probeFeatures();
    if (opts.probeStack) {
      if (!opts.filter && !opts.metaFilter) throw new ProbeStackError(PROBE_STACK_NEEDS_FILTER);
      if (!features.kprobe.available)
        throw new ProbeStackError(probeStackNeedsKprobes(features.kprobe.reason ?? 'kprobes do not attach'));
    }
    const { enabled: chosen, skipped } = chooseCollectors(opts.collectors ?? ['auto'], collectorCheck(opts));
    for (const c of REGISTRY) c.validate?.(opts);
    const enabled = withNeeds(chosen);
    const running = REGISTRY.filter((c) => enabled.has(c.name));
    const note = (m: string): void => opts.onNote?.(m);
    for (const c of REGISTRY) {
      if (enabled.has(c.name)) continue;
      const msg = c.idleNote?.(opts, skipped.find((x) => x.name === c.name)?.reason ?? 'not in -c');
      if (msg) note(msg);
    }
    // User probes a running collector handles itself are planned by it, not generically.
    const userSpecs = opts.probes ?? [];
    const probes = planProbes(
      userSpecs.filter((p) => !running.some((c) => c.claims?.(p))),
      enabled,
      features,
      !!opts.stack || !!opts.probeStack,
    );
    for (const c of running) {
      const claimed = userSpecs.filter((p) => c.claims?.(p));
      probes.push(...(c.ownProbes?.({ options: opts, features, enabled, note }, probes.length, claimed) ?? []));
    }
    const filter = opts.filter ? compileFilter(opts.filter, filterOptions(features)) : undefined;
    const meta = opts.metaFilter ? compileMetaFilter(opts.metaFilter) : undefined;
    const s = new TracingSession(probes, enabled, skipped);
    s.filter = filter;
    s.metaFilter = meta;
    if (opts.netns) s.netnsScope = new Set(checkNetns(opts.netns));
    const ring = opts.ringBytes ?? 8 << 20;
    s.wakeupBytes = opts.wakeupBytes ?? Math.min(ring / 4, 256 << 10);
    const plan: SessionPlan = {
      options: opts,
      features,
      enabled,
      probes,
      selective: !!filter || !!meta || !!opts.netns,
      note,
    };
    const uninstall = installFilter(filter, meta);
    try {
      s.load(plan);
    } catch (e) {
      s.release();
      throw e;
    } finally {
      uninstall();
    }
    return s;
  }

  private load(plan: SessionPlan): void {
    const opts = plan.options;
    const running = REGISTRY.filter((c) => plan.enabled.has(c.name));
    const started = performance.now();
    let symbols: Kallsyms | undefined;
    const kallsymsOnce = (): Kallsyms => (symbols ??= new Kallsyms());
    this.kprobeIds = sharedKprobes(this.probes, kallsymsOnce);
    // Typed direct reads where the kernel can cast pointers to their BTF type (6.2+); the build
    // without them elsewhere (bpf/include/compat.bpf.h). Same record, same programs and maps.
    const path = bpfObjectPath(plan.features.direct_reads.available ? 'probe' : 'probe_compat');
    const layouts = loadLayouts(path);
    // Every load gets the same settings; per-probe loads add their own.
    const globals: Partial<ProbeGlobals> = {
      wakeup_bytes: this.wakeupBytes,
      filter_packet: !!this.filter,
      // The probe hands the filter a pointer it can load from (translated for it, or not).
      direct_packet: !!this.filter?.direct,
      filter_meta: !!this.metaFilter,
      count_followed: !!this.filter || !!this.metaFilter,
      filter_netns: !!this.netnsScope,
    };
    for (const c of running) Object.assign(globals, c.globals?.(plan));
    const main = ProbeObject.open(path);
    this.objects.push(main);
    main.set({ ...globals, use_cookie: plan.features.raw_tp_cookie.available });
    if (opts.ringBytes) main.setMapMaxEntries('events', opts.ringBytes);
    const programs = mainPrograms(this.probes, this.kprobeIds);
    for (const c of running) for (const p of c.mainPrograms?.(plan) ?? []) programs.add(p);
    main.loadOnly(programs);
    if (this.netnsScope) {
      const allow = main.map('netns_allow');
      for (const inum of this.netnsScope) allow.update(inum, NETNS_ALLOWED);
    }
    this.fillKprobeIds(main);
    this.fillProbeConfigs(main);

    const perTarget: PerTarget = (p, progs, own, prepare) => {
      const o = ProbeObject.open(path, `probe_${p.id}`);
      this.objects.push(o);
      o.set({ ...globals, use_cookie: false, rodata_probe_id: p.id, ...own });
      o.shareMaps(main);
      prepare?.(o);
      o.loadOnly(progs);
      return o;
    };
    const link = (l: Link): void => void this.links.push(l);
    const refused: { probe: PlannedProbe; why: string }[] = [];
    for (const p of this.probes) {
      try {
        attachOne(p, main, perTarget, this.kprobeIds, link);
      } catch (e) {
        // A function a wildcard matched that the kernel will not probe (blacklisted) is skipped.
        if (!p.spec.includes('*') || p.mechanism.endsWith('_multi')) throw e;
        refused.push({ probe: p, why: (e as Error).message });
      }
    }
    if (refused.length) this.skipRefused(refused, plan.note);
    attachMulti(this.probes, main, link);
    this.attachMs = performance.now() - started;

    const kallsyms = this.probes.some((p) => p.flags & ProbeFlag.STACK) ? kallsymsOnce() : undefined;
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
    const sections = collectorSections(layouts, [...plan.enabled], opts);
    const decoder = new RecordDecoder(layouts, identities, sections, stackOf);
    const jsonWriter = new RecordJsonWriter(layouts, identities, sections, stackOf);
    if (opts.probeStack) this.probeStack = this.probeStackAdder(plan, main, perTarget, link, identities);
    const { onEvent, onRecordError, onRecords } = opts;
    const sink = opts.onJsonLines ?? (opts.onJson ? linesAsStrings(opts.onJson) : undefined);
    const lines = sink && new RecordLines(layouts, identities, sections, { writer: jsonWriter, decoder }, sink);
    const probeStack = this.probeStack;
    // --probe-stack reads every event's stack: its lines are the decoded events'.
    const onDecoded = probeStack
      ? (ev: Event): void => {
          for (const fn of probeStack.stack.take(ev)) setImmediate(() => probeStack.add(fn));
          lines?.line(stringifyEvent(ev));
          if (onEvent) onEvent(ev);
        }
      : onEvent;
    let reading = false;
    const emit = (ev: Event): void => {
      if (lines) {
        lines.line(stringifyEvent(ev));
        // Inside a batch, its lines go out with the batch's.
        if (!reading) lines.flush();
      }
      if (onEvent) onEvent(ev);
      this.delivered++;
    };
    for (const c of running) {
      const r = c.start?.({ ...plan, main, layouts, emit, link });
      if (r) this.running.push(r);
    }
    const read = batchReader({
      decoder,
      ...(lines ? { lines } : {}),
      linesFromRecords: !probeStack,
      ...(onDecoded ? { onDecoded } : {}),
      taps: this.running.flatMap((r) => (r.tap ? [r.tap.bind(r)] : [])),
      ...(onRecords ? { onRecords } : {}),
      onBadRecord: (e) => {
        this.badRecords++;
        onRecordError?.(e);
      },
      onDelivered: (n) => void (this.delivered += n),
    });
    this.reader = new RingBufferReader(main.map('events'), (batch) => {
      reading = true;
      try {
        read(batch);
      } finally {
        reading = false;
      }
    }).start();
    if (this.wakeupBytes > 0) {
      const reader = this.reader;
      this.drainTimer = setInterval(() => reader.consume(), opts.drainMs ?? 20);
    }
  }

  /**
   * --probe-stack's runtime kprobes: each a load of its own (the shared programs are loaded
   * already), its probe config written before it is attached.
   */
  private probeStackAdder(
    plan: SessionPlan,
    main: ProbeObject,
    perTarget: PerTarget,
    link: (l: Link) => void,
    identities: { symbol: string; probeType: string }[],
  ): { stack: ProbeStack; add: (fn: string) => void } {
    const opts = plan.options;
    const running = REGISTRY.filter((c) => plan.enabled.has(c.name));
    const resolve = (fn: string): ReturnType<typeof resolveProbe>[number] | undefined => {
      try {
        return resolveProbe(parseProbe(`kprobe:${fn}`))[0];
      } catch {
        return undefined; // no sk_buff within reach, no BTF prototype: nothing to read there
      }
    };
    const stack = new ProbeStack({
      probed: this.probes.map((p) => p.target),
      usable: (fn) => resolve(fn) !== undefined,
      keepAll: !!opts.stack,
      keep: new Set(this.probes.filter((p) => p.stack).map((p) => `${p.probeType}/${p.symbol}`)),
    });
    const add = (fn: string): void => {
      const r = resolve(fn);
      if (!r || this.stopped || this.probes.length >= MAPS.probe_configs.maxEntries) return;
      // One kprobe each, whatever the first probes used: the multi link is made already.
      const mechanism = 'kprobe' as const;
      const p: PlannedProbe = {
        ...r,
        id: this.probes.length,
        mechanism,
        probeType: probeTypeName(mechanism),
        flags: ProbeFlag.STACK,
        silent: false,
      };
      for (const c of running) p.flags |= c.probeFlags?.(p, plan.enabled) ?? 0;
      this.probes.push(p);
      identities.push({ symbol: p.symbol, probeType: p.probeType });
      this.writeProbeConfig(main, p);
      // Its own load: the session's filters are spliced into it as into the first ones.
      const uninstall = installFilter(this.filter, this.metaFilter);
      try {
        attachOne(p, main, perTarget, undefined, link);
        plan.note(`--probe-stack: probe added on ${fn}`);
      } catch (e) {
        plan.note(`--probe-stack: could not probe ${fn}: ${(e as Error).message}`);
      } finally {
        uninstall();
      }
    };
    return { stack, add };
  }

  /** Plain kprobes sharing probe_kprobe_ip find their probe id by function address. */
  private fillKprobeIds(main: ProbeObject): void {
    if (!this.kprobeIds) return;
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

  /** Each probe's struct probe_config: where its skb and drop reason are, its flags. */
  private fillProbeConfigs(main: ProbeObject): void {
    for (const p of this.probes) this.writeProbeConfig(main, p);
  }

  private writeProbeConfig(main: ProbeObject, p: PlannedProbe): void {
    const { size, fields } = STRUCTS.probe_config;
    const v = Buffer.alloc(size);
    v.writeUInt8(p.skbArg === undefined ? 0 : p.skbArg + 1, fields.skb_arg.offset);
    v.writeUInt8(p.reasonArg === undefined ? 0 : p.reasonArg + 1, fields.reason_arg.offset);
    v.writeUInt8(p.flags, fields.flags.offset);
    main.map('probe_configs').update(p.id, v);
  }

  private skipRefused(refused: { probe: PlannedProbe; why: string }[], note: (m: string) => void): void {
    this.probes = this.probes.filter((p) => !refused.some((r) => r.probe === p));
    this.refusedProbes = refused.map((r) => ({ probe: `${r.probe.kind}:${r.probe.symbol}`, reason: r.why }));
    const names = refused.map((r) => r.probe.symbol);
    note(
      `${refused.length} wildcard match(es) could not be attached and were skipped: ${names.slice(0, 5).join(', ')}` +
        `${names.length > 5 ? ', ...' : ''} (first error: ${refused[0]?.why ?? ''})`,
    );
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

  /** Lines the collectors have for the user about the session (after stop(), say). */
  summary(): string[] {
    return this.running.flatMap((r) => r.summary?.() ?? []);
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
      const { fields } = STRUCTS.probe_counters;
      const counters = main.map('counters');
      for (const p of this.probes) {
        let h = 0;
        let l = 0;
        for (const v of counters.lookupPerCpu(p.id) ?? []) {
          h += Number(v.readBigUInt64LE(fields.hits.offset));
          l += Number(v.readBigUInt64LE(fields.lost.offset));
        }
        hits += h;
        lost += l;
        perProbe.push({ symbol: p.symbol, probeType: p.probeType, hits: h, lost: l });
      }
      this.lastCounts = { delivered: this.delivered, lost, hits, badRecords: this.badRecords, perProbe };
    }
    return this.lastCounts ?? { delivered: this.delivered, lost: 0, hits: 0, badRecords: this.badRecords, perProbe };
  }

  /** Detaches every probe (no new events), delivers what is left, then frees everything. */
  stop(): SessionCounts {
    if (this.stopped) return this.counts();
    for (const l of this.links) l.close();
    this.drain();
    for (const r of this.running) r.stop?.();
    const final = this.counts();
    if (this.objects[0]?.loaded) for (const r of this.running) r.finish?.(final);
    this.release();
    return final;
  }

  private release(): void {
    for (const r of this.running) r.stop?.();
    if (this.drainTimer) clearInterval(this.drainTimer);
    this.reader?.close();
    this.reader = undefined;
    for (const l of this.links) l.close();
    for (const o of this.objects.reverse()) o.close();
    this.objects.length = 0;
    this.stopped = true;
  }
}
