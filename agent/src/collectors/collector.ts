// What a collector is: one object that says whether it can run here, which probes and settings
// it needs, how it attaches its own programs, how it reads its sections of a record, and what
// runs beside the kernel side while a session lasts. The session drives every collector through
// this interface and names none of them; agent/README.md walks through adding one.
import type { FeatureReport, Link } from '@retrace/ebpf-loader';
import type { Event } from '@retrace/events';
import type { ProbeGlobals, ProgramName } from '../gen/probe-skeleton.js';
import type { RecordLayouts } from '../decode/layout.js';
import type { SectionCodec } from '../decode/section.js';
import type { ProbeObject } from '../session/probe-object.js';
import type { PlannedProbe } from '../session/plan.js';
import type { SessionCounts, SessionOptions } from '../session/options.js';

/** A probe a collector asks for, attached with the generic programs. */
export interface AutoProbe {
  spec: string;
  /** Added only for tracking: attached silently unless the user or a collector wants events there. */
  silent: boolean;
  /** Skipped without error when this kernel lacks the function (e.g. inlined). */
  optional?: boolean;
}

/** What the session decided, for the hooks that run after planning. */
export interface SessionPlan {
  readonly options: SessionOptions;
  readonly features: FeatureReport;
  /** The collectors that run. */
  readonly enabled: ReadonlySet<string>;
  /** Every probe of the session (the generic ones and the collectors' own). */
  readonly probes: readonly PlannedProbe[];
  /** A packet filter, meta filter or namespace scope selects packets: only followed ones are reported. */
  readonly selective: boolean;
  note(msg: string): void;
}

export interface AttachContext {
  /** The main load: programs several probes share, and the maps. */
  readonly main: ProbeObject;
  /**
   * A load of the object for one probe (its id in read-only data), sharing the main load's maps;
   * `prepare` runs before it is loaded.
   */
  perTarget(
    p: PlannedProbe,
    programs: ProgramName[],
    globals?: Partial<ProbeGlobals>,
    prepare?: (o: ProbeObject) => void,
  ): ProbeObject;
  link(l: Link): void;
}

export interface RunContext extends SessionPlan {
  readonly main: ProbeObject;
  readonly layouts: RecordLayouts;
  /** Delivers an event the collector made itself (not decoded from a record). */
  emit(ev: Event): void;
  link(l: Link): void;
}

/** What a collector runs while the session lasts. */
export interface RunningCollector {
  /** Sees every record before it is decoded; true when the record was the collector's own (no event). */
  tap?(view: DataView, buf: Buffer, at: number, len: number): boolean;
  /** Adds to the counts of a stopping session (its maps are still there). */
  finish?(counts: SessionCounts): void;
  /** A line for the user once the session is over (e.g. what was matched), if any. */
  summary?(): string | undefined;
  stop?(): void;
}

export interface Collector {
  /** As users name it (-c). */
  readonly name: string;
  /**
   * It sees more than the packets of a trace's pods (host processes, datapath-wide state): only
   * a ClusterTrace may ask for it. Read at build time (agent/gen-collector-names.mjs).
   */
  readonly hostWide?: boolean;
  /** Collectors that run whenever this one does. */
  readonly needs?: readonly string[];
  /** Why it cannot run on this machine (undefined: it can). */
  unavailable?(options: SessionOptions): string | undefined;
  /** A stricter check when `auto` (not the user) would start it. */
  unavailableForAuto?(options: SessionOptions): string | undefined;
  /** Throws when its options are wrong (asked of every collector, running or not). */
  validate?(options: SessionOptions): void;
  /** A note when options of it were given but it does not run (why: the reason). */
  idleNote?(options: SessionOptions, why: string): string | undefined;

  /** Probes it adds, attached with the generic programs. */
  probes?(ctx: { kprobes: boolean; enabled: ReadonlySet<string> }): AutoProbe[];
  /** Flags (ProbeFlag) it sets on a probe of the generic plan, e.g. a freeing point. */
  probeFlags?(p: { kind: string; symbol: string }, enabled: ReadonlySet<string>): number;
  /** User probe specs it handles itself: they leave the generic plan for ownProbes. */
  claims?(spec: string): boolean;
  /** Probes with programs of its own (attach() attaches them), numbered from firstId. */
  ownProbes?(
    ctx: Omit<SessionPlan, 'probes' | 'selective'>,
    firstId: number,
    claimed: readonly string[],
  ): PlannedProbe[];

  /** Its settings, for every load of the probe object. */
  globals?(plan: SessionPlan): Partial<ProbeGlobals>;
  /** Programs of the main load it needs besides its probes'. */
  mainPrograms?(plan: SessionPlan): ProgramName[];
  /** Attaches one of its own probes. */
  attach?(p: PlannedProbe, ctx: AttachContext): void;
  /** Readers of its sections of a record. */
  sections?(layouts: RecordLayouts, options: SessionOptions): SectionCodec[];
  /** Starts what runs beside the kernel side, once everything is attached. */
  start?(ctx: RunContext): RunningCollector;
}
