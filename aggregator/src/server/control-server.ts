// The aggregator's control API (retrace.v1.Control): a separate retrace-operator sets the traces
// the agents run and reads what it writes into traces' status. Where an aggregator's traces come
// from is decided once, at start: from --traces FILE (SetTraces is then refused, so that two
// sources never fight over one set), or from an operator. The operator's last set is kept in
// the store directory, so an aggregator that restarts goes on running it before any operator
// speaks again; an operator that restarts changes nothing until it sends its own whole set.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { status, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import {
  ProtoDecodeError,
  decodeMessage,
  encodeMessage,
  type ControlState,
  type GetStateRequest,
  type SetTracesRequest,
  type SetTracesResponse,
  type TraceSpec,
} from '@retrace/events';
import { writeAtomically } from '../store/index.js';
import type { Aggregator } from './aggregator.js';
import { certificateIdentity, peerIdentity } from './peer-identity.js';

/** The operator's last SetTraces, in the store directory (a dot name: never a trace's directory). */
export const CONTROL_FILE = '.control-traces.pb';

export type TraceSource =
  { kind: 'file'; file: string } | { kind: 'operator'; revision: string; operator: string } | { kind: 'none' };

export interface ControlOptions {
  storeDir: string;
  /** --traces FILE: the traces come from it, and SetTraces is refused. */
  tracesFile?: string;
  /**
   * Names (certificate CN or DNS name) of the clients allowed to call Control; undefined: any
   * (plain-text tests). Agents' certificates are signed by the same CA, so the CA alone is not
   * enough: an agent must not be able to set every node's traces.
   */
  clients?: readonly string[];
  log?: (msg: string) => void;
}

/** What Control changes in the aggregator (the traces it assigns) and reads from it. */
export type ControlTarget = Pick<Aggregator, 'setTraces' | 'traceNames' | 'summary'> & {
  link: Pick<Aggregator['link'], 'connectedNodes'>;
};

type Handler<Req, Res> = (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>) => void;

export class ControlServer {
  private source: TraceSource;
  private names: string[] = [];
  private readonly log: (m: string) => void;

  constructor(
    private readonly agg: ControlTarget,
    private readonly opts: ControlOptions,
  ) {
    this.log = opts.log ?? ((m) => process.stderr.write(`${m}\n`));
    this.source = opts.tracesFile ? { kind: 'file', file: opts.tracesFile } : { kind: 'none' };
  }

  /**
   * Without --traces: assigns the set the last operator gave (kept in the store), so agents
   * reconnecting to a restarted aggregator get their traces back at once. Returns its names, or
   * undefined when there is none.
   */
  restore(): string[] | undefined {
    if (this.source.kind === 'file') return undefined;
    const file = join(this.opts.storeDir, CONTROL_FILE);
    if (!existsSync(file)) return undefined;
    let req: SetTracesRequest;
    try {
      req = decodeMessage('SetTracesRequest', readFileSync(file)) as SetTracesRequest;
    } catch (e) {
      if (!(e instanceof ProtoDecodeError)) throw e;
      this.log(`warning: ${file} is unreadable (${e.message}): no traces until the operator sends them`);
      return undefined;
    }
    this.apply(req);
    return this.names;
  }

  /** A trace file (re-)read: its traces, whatever the source (only used with --traces). */
  setFromFile(specs: TraceSpec[]): void {
    this.agg.setTraces(specs);
    this.names = specs.map((s) => s.name);
  }

  private apply(req: SetTracesRequest): void {
    const specs = req.traces ?? [];
    this.agg.setTraces(specs);
    this.names = specs.map((s) => s.name);
    this.source = { kind: 'operator', revision: req.revision, operator: req.operator };
  }

  private save(req: SetTracesRequest): void {
    writeAtomically(join(this.opts.storeDir, CONTROL_FILE), encodeMessage('SetTracesRequest', req));
  }

  /** Why a set cannot be taken, if it cannot. */
  private refusal(req: SetTracesRequest): string | undefined {
    if (this.source.kind === 'file')
      return (
        `this aggregator takes its traces from --traces ${this.source.file}; ` +
        'start retrace-aggregator without --traces to let the operator set them'
      );
    const seen = new Set<string>();
    for (const s of req.traces ?? []) {
      if (!s.name) return 'a trace has no name';
      if (seen.has(s.name)) return `trace ${s.name} is given twice`;
      seen.add(s.name);
    }
    return undefined;
  }

  /** Why this caller may not use Control, or undefined when it may. */
  private denied(call: ServerUnaryCall<unknown, unknown>): string | undefined {
    const allowed = this.opts.clients;
    if (!allowed) return undefined;
    const names = peerIdentity(call).names;
    if (names.some((n) => allowed.includes(n))) return undefined;
    const who = names.length ? names.join(', ') : 'no certificate';
    this.log(`refused a control call from ${who}: not one of ${allowed.join(', ')}`);
    return (
      `the control API is for retrace-operator; this client's certificate (${who}) is not one of ` +
      `${allowed.join(', ')} (give the operator that certificate, or start retrace-aggregator with --control-client NAME)`
    );
  }

  handlers(): Record<string, unknown> {
    const setTraces: Handler<SetTracesRequest, SetTracesResponse> = (call, cb) => {
      const denied = this.denied(call);
      if (denied) return cb({ code: status.PERMISSION_DENIED, details: denied }, null);
      const req = call.request;
      const refused = this.refusal(req);
      if (refused) {
        this.log(`refused traces from the operator${req.operator ? ` ${req.operator}` : ''}: ${refused}`);
        return cb({ code: status.FAILED_PRECONDITION, details: refused }, null);
      }
      try {
        this.save(req);
      } catch (e) {
        // Still taken (the agents must run it), only not kept: after a restart of this
        // aggregator the operator sees another revision and sends its set again.
        this.log(
          `warning: cannot keep the operator's traces in ${this.opts.storeDir}: ${(e as Error).message} ` +
            '(a restart forgets them until the operator sends them again)',
        );
      }
      const before = this.source.kind === 'operator' ? this.source.revision : '';
      this.apply(req);
      if (req.revision !== before)
        this.log(
          `traces from the operator${req.operator ? ` ${req.operator}` : ''} (revision ${req.revision || '-'}): ` +
            (this.names.join(', ') || 'none'),
        );
      cb(null, { revision: req.revision, traces: this.names });
    };
    const getState: Handler<GetStateRequest, ControlState> = (call, cb) => {
      const denied = this.denied(call);
      if (denied) return cb({ code: status.PERMISSION_DENIED, details: denied }, null);
      const held = new Set(this.agg.traceNames());
      const wanted = call.request.all_traces ? [...held] : (call.request.traces ?? []).filter((t) => held.has(t));
      cb(null, {
        nodes: this.agg.link.connectedNodes(),
        summaries: [...new Set(wanted)].map((t) => this.agg.summary(t)),
        revision: this.source.kind === 'operator' ? this.source.revision : '',
        source: this.source.kind,
        traces: this.names,
      });
    };
    return { SetTraces: setTraces, GetState: getState };
  }
}

/** The names a certificate (PEM) carries: its CN and DNS names. */
export function certificateNames(pem: string | Buffer): string[] {
  return certificateIdentity(pem).names;
}
