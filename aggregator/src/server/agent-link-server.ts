// The aggregator's side of the agent link: one stream per agent. Checks the registration and
// protocol version, sends the trace assignments (the full set, then changes), numbers what it
// receives (duplicates from resends are dropped, missing ranges become gaps), heartbeats, and
// ends a stream that stays silent past the deadline. Batches are acknowledged only when the
// aggregator says they are durable (ack()), never on receipt: the Welcome's cursors are what was
// acknowledged, so a reconnecting agent resends everything else. A malformed message marks that
// stream only; the other agents are not affected.
import type { ServerDuplexStream } from '@grpc/grpc-js';
import {
  type AgentMessage,
  type AttachResults,
  type CauseLost,
  type LostEvents,
  type NodeStatus,
  type ProbeLost,
  type Register,
  type SeqGap,
  type ServerMessage,
  type TraceComplete,
  type TraceCursor,
  type TraceSpec,
} from '@retrace/events';
import { PROTOCOL_VERSION } from '@retrace/wire';
import { nodeSan, peerIdentity } from './peer-identity.js';
import { nameProblem, printable } from './wire-names.js';

export interface AgentStream {
  node: string;
  incarnation: string;
  register: Register;
  connectedAt: number;
}

/** What the link reports to the rest of the aggregator. */
export interface LinkHandler {
  /** The traces this node should run (pods already narrowed to the node). */
  tracesFor(node: string): TraceSpec[];
  onRegister(s: AgentStream, previousIncarnation: string | undefined): void;
  onAttach(s: AgentStream, r: AttachResults): void;
  /**
   * A batch in sequence (resent duplicates never get here). Events are still encoded. Returns a
   * problem to tell the agent about (e.g. events that did not decode), if any.
   */
  onBatch(
    s: AgentStream,
    trace: string,
    seq: bigint,
    events: Uint8Array[],
    lost: ProbeLost[],
    losses: CauseLost[],
  ): string | void;
  onGap(node: string, trace: string, gap: SeqGap): void;
  onLost(s: AgentStream, l: LostEvents): void;
  onStatus(s: AgentStream, st: NodeStatus): void;
  onComplete(s: AgentStream, c: TraceComplete): void;
  /** The stream ended (`lost`: by the deadline or an error, rather than a clean close). */
  onStreamEnd(s: AgentStream, reason: string, lost: boolean): void;
  /** A message that could not be used; the stream is marked. */
  onStreamError(node: string | undefined, message: string): void;
}

export interface LinkTiming {
  heartbeatMs: number;
  deadlineMs: number;
  /**
   * bound (what retrace-aggregator and retrace-operator default to): an agent registers only as
   * a node its certificate names (DNS SAN NAME.nodes.retrace). shared (the default here, for
   * embedding without TLS): any certificate the CA signed may register as any node (one
   * certificate for every agent; a stolen one can pose as any node).
   */
  agentCerts?: 'bound' | 'shared';
  /**
   * The server's TLS lets clients in without a certificate (query callers known by a token):
   * an agent that has none the CA signed is then refused here instead of in the handshake.
   */
  clientCertificatesOptional?: boolean;
  /** Each batch is taken in this much later (reading pauses meanwhile): a slow aggregator, for tests. */
  ingestDelayMs?: number;
}

type Call = ServerDuplexStream<AgentMessage, ServerMessage>;

interface NodeCursor {
  incarnation: string;
  /** Last batch received per trace (resends up to it are duplicates). */
  lastSeq: Map<string, bigint>;
  /** Last batch acknowledged per trace (durable): what a reconnecting agent keeps. */
  acked: Map<string, bigint>;
  /** Traces ever assigned to the node (its batches may still come after a trace ended). */
  assigned: Set<string>;
}

export class AgentLinkServer {
  /** Per node: the incarnation last seen and its last batch per trace (survives reconnects). */
  private readonly cursors = new Map<string, NodeCursor>();
  private readonly streams = new Map<string, { call: Call; stream: AgentStream; sent: Set<string> }>();
  duplicates = 0;

  constructor(
    private readonly handler: LinkHandler,
    private readonly timing: LinkTiming = { heartbeatMs: 1000, deadlineMs: 5000 },
  ) {}

  /**
   * After a restart: per node, its incarnation and the batches acknowledged per trace (the
   * checkpoint's). Batches after them are taken again when the agents resend them.
   */
  loadCursors(saved: Record<string, { incarnation: string; lastSeq: Record<string, string> }>): void {
    for (const [node, c] of Object.entries(saved)) {
      const acked = new Map(Object.entries(c.lastSeq).map(([t, s]) => [t, BigInt(s)]));
      this.cursors.set(node, {
        incarnation: c.incarnation,
        lastSeq: new Map(acked),
        acked,
        assigned: new Set(acked.keys()),
      });
    }
  }

  /** Batches up to `seq` of a node's run are durable: the agent may let them go. */
  ack(node: string, incarnation: string, trace: string, seq: bigint): void {
    const c = this.cursors.get(node);
    if (!c || c.incarnation !== incarnation) return; // that run is gone: nobody to tell
    if ((c.acked.get(trace) ?? 0n) >= seq) return;
    c.acked.set(trace, seq);
    const st = this.streams.get(node);
    if (st && st.stream.incarnation === incarnation) st.call.write({ ack: { trace, seq } });
  }

  connectedNodes(): string[] {
    return [...this.streams.keys()];
  }

  /** The grpc-js handler of AgentLink.Connect. */
  readonly connect = (call: Call): void => {
    let stream: AgentStream | undefined;
    let lastHeard = Date.now();
    let ended = false;
    /** The agent said it is closing on purpose (Goodbye): the end that follows is clean. */
    let goodbye = '';
    const send = (m: ServerMessage): void => {
      if (!ended) call.write(m);
    };
    const end = (reason: string, lost: boolean): void => {
      if (ended) return;
      ended = true;
      clearInterval(timer);
      if (stream && this.streams.get(stream.node)?.call === call) {
        this.streams.delete(stream.node);
        this.handler.onStreamEnd(stream, reason, lost);
      }
    };
    const refuse = (message: string): void => {
      send({ error: { message, fatal: true } });
      this.handler.onStreamError(stream?.node, message);
      call.end();
      end(message, true);
    };
    const timer = setInterval(() => {
      if (Date.now() - lastHeard > this.timing.deadlineMs) {
        end(`no message from the agent for ${Date.now() - lastHeard} ms (deadline ${this.timing.deadlineMs} ms)`, true);
        call.end();
        call.destroy();
        return;
      }
      send({ heartbeat: { sent_ns: BigInt(Date.now()) * 1_000_000n } });
    }, this.timing.heartbeatMs);

    const onData = (m: AgentMessage): void => {
      lastHeard = Date.now();
      try {
        if (!stream) {
          if (!m.register) return refuse('the first message on the stream must be a registration');
          const r = m.register;
          if (r.protocol !== PROTOCOL_VERSION)
            return refuse(
              `the agent speaks protocol ${r.protocol}, this aggregator speaks ${PROTOCOL_VERSION}: run agent and aggregator of the same retrace release`,
            );
          if (!r.node) return refuse('the registration names no node: start the agent with --node-name');
          const bad = nameProblem(r.node, 'node name');
          if (bad) return refuse(`${bad}: start the agent with the node's Kubernetes name (--node-name)`);
          if (!r.incarnation || nameProblem(r.incarnation, 'incarnation'))
            return refuse('the registration has no valid incarnation id (letters, digits, - and . only)');
          if (this.timing.clientCertificatesOptional && !peerIdentity(call).names.length)
            return refuse(
              "this agent presented no client certificate the aggregator's CA signed (none, or another CA's): " +
                'start it with --ca, --cert and --key from the CA the aggregator trusts',
            );
          if (this.timing.agentCerts === 'bound') {
            const id = peerIdentity(call);
            if (!id.nodes.includes(r.node))
              return refuse(
                `this agent's certificate (${id.names.join(', ') || 'no name'}) is not bound to node ${r.node}: ` +
                  (id.nodes.length
                    ? `it may register only as ${id.nodes.join(', ')}`
                    : `give each agent a certificate naming its node (DNS name ${nodeSan(r.node)} in its subjectAltName), ` +
                      'or start the aggregator with --agent-certs shared to accept one certificate for all agents'),
              );
          }
          stream = { node: r.node, incarnation: r.incarnation, register: r, connectedAt: Date.now() };
          const old = this.streams.get(r.node);
          if (old) old.call.end(); // a newer stream of the same node replaces the old one
          this.streams.set(r.node, { call, stream, sent: new Set() });
          const prev = this.cursors.get(r.node);
          this.onRegistered(stream, prev);
          send({
            welcome: {
              protocol: PROTOCOL_VERSION,
              cursors: this.cursorsOf(r.node),
              heartbeat_ms: this.timing.heartbeatMs,
              deadline_ms: this.timing.deadlineMs,
            },
          });
          this.assign(r.node, true);
          return;
        }
        if (m.goodbye) {
          goodbye = m.goodbye.reason || 'the agent said goodbye';
          return;
        }
        this.onMessage(stream, m, send);
      } catch (e) {
        const msg = `${stream?.node ?? 'unregistered agent'}: ${(e as Error).message}`;
        this.handler.onStreamError(stream?.node, msg);
        send({ error: { message: msg, fatal: false } });
      }
    };
    const delay = this.timing.ingestDelayMs ?? 0;
    call.on('data', (m: AgentMessage) => {
      if (!delay || !m.batch) return onData(m);
      // Not reading meanwhile: HTTP/2 flow control pushes back on the agent.
      call.pause();
      setTimeout(() => {
        lastHeard = Date.now();
        onData(m);
        if (!ended) call.resume();
      }, delay);
    });
    call.on('error', (e: Error) => {
      // Messages that do not decode arrive here: grpc-js ends the call.
      this.handler.onStreamError(stream?.node, `${stream?.node ?? 'unregistered agent'}: ${e.message}`);
      end(e.message, true);
    });
    // Only a Goodbye makes an end clean: a killed agent's connection also just closes.
    call.on('end', () => {
      if (goodbye) end(`the agent closed the stream: ${goodbye}`, false);
      else end('the stream ended without a goodbye (the agent was killed, or its node or the network failed)', true);
      call.end();
    });
    call.on('close', () =>
      end(goodbye ? `the agent closed the stream: ${goodbye}` : 'stream closed without a goodbye', !goodbye),
    );
  };

  private onRegistered(s: AgentStream, prev: NodeCursor | undefined): void {
    if (prev && prev.incarnation !== s.incarnation) {
      // The agent restarted: whatever its previous run sent after the last batch we have is gone.
      for (const [trace, last] of prev.lastSeq)
        this.handler.onGap(s.node, trace, {
          incarnation: prev.incarnation,
          first_seq: last + 1n,
          last_seq: 0n,
          reason: 'the agent restarted; events of its previous run after this batch were not received',
        });
      this.cursors.set(s.node, {
        incarnation: s.incarnation,
        lastSeq: new Map(),
        acked: new Map(),
        assigned: new Set(prev.assigned),
      });
    } else if (!prev)
      this.cursors.set(s.node, {
        incarnation: s.incarnation,
        lastSeq: new Map(),
        acked: new Map(),
        assigned: new Set(),
      });
    // The same run reconnecting: what it sends again after the last acknowledged batch and up
    // to the last received one is dropped as duplicates (it is already here, in memory).
    this.handler.onRegister(s, prev?.incarnation !== s.incarnation ? prev?.incarnation : undefined);
  }

  private cursorsOf(node: string): TraceCursor[] {
    const c = this.cursors.get(node);
    if (!c) return [];
    return [...c.acked].map(([trace, last_seq]) => ({ trace, incarnation: c.incarnation, last_seq }));
  }

  /** Sends a node its assignments: all of them (full) or what changed since the last send. */
  assign(node: string, full = false): void {
    const st = this.streams.get(node);
    if (!st) return;
    const traces = this.handler.tracesFor(node);
    const names = new Set(traces.map((t) => t.name));
    const removed = full ? [] : [...st.sent].filter((n) => !names.has(n));
    st.sent = names;
    const assigned = this.cursors.get(node)?.assigned;
    for (const n of names) assigned?.add(n);
    st.call.write({ assignments: { full, traces, removed } });
  }

  /** Re-sends assignments to every connected agent (the set of traces changed). */
  reassignAll(): void {
    for (const node of this.streams.keys()) this.assign(node);
  }

  /** An agent speaks only of traces assigned to its node: it cannot make one up. */
  private checkAssigned(s: AgentStream, trace: string, what: string): void {
    if (this.cursors.get(s.node)?.assigned.has(trace)) return;
    throw new Error(
      `${what} for trace ${printable(trace)}, which is not assigned to node ${s.node}: refused (agents send only ` +
        'what the aggregator assigned them)',
    );
  }

  private onMessage(s: AgentStream, m: AgentMessage, send: (m: ServerMessage) => void): void {
    const trace = m.batch?.trace ?? m.attach?.trace ?? m.lost?.trace ?? m.status?.trace ?? m.complete?.trace;
    if (trace !== undefined) this.checkAssigned(s, trace, m.batch ? `batch ${m.batch.seq}` : 'a message');
    if (m.batch) {
      const b = m.batch;
      if (!b.trace) throw new Error(`batch ${b.seq} names no trace`);
      const cursor = this.cursors.get(s.node) as NodeCursor;
      const last = cursor.lastSeq.get(b.trace) ?? 0n;
      if (b.seq <= last) {
        this.duplicates++; // acknowledged when it is durable, like the first copy
        return;
      }
      if (b.seq > last + 1n)
        this.handler.onGap(s.node, b.trace, {
          incarnation: s.incarnation,
          first_seq: last + 1n,
          last_seq: b.seq - 1n,
          reason: 'batches never arrived (dropped by the agent before they could be resent)',
        });
      cursor.lastSeq.set(b.trace, b.seq);
      const problem = this.handler.onBatch(
        s,
        b.trace,
        b.seq,
        (b.events ?? []) as unknown as Uint8Array[],
        b.lost ?? [],
        b.losses ?? [],
      );
      if (problem) send({ error: { message: problem, fatal: false } });
    } else if (m.attach) this.handler.onAttach(s, m.attach);
    else if (m.lost) this.handler.onLost(s, m.lost);
    else if (m.status) this.handler.onStatus(s, m.status);
    else if (m.complete) this.handler.onComplete(s, m.complete);
    else if (m.heartbeat) return;
    else if (m.register) throw new Error('registered twice on one stream');
    else throw new Error('empty or unknown message (a newer agent?)');
  }
}
