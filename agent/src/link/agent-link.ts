// The agent's side of the link: one long-lived bidirectional stream to the aggregator. Registers,
// receives trace assignments, writes batches as fast as HTTP/2 flow control allows (a full window
// makes write() return false; writing resumes on 'drain'), heartbeats, notices a silent server
// within the deadline, and reconnects with backoff, resending what was not acknowledged.
import { makeGenericClientConstructor, type Client, type ClientDuplexStream } from '@grpc/grpc-js';
import { type AgentMessage, type Assignments, type Register, type ServerMessage, type Welcome } from '@retrace/events';
import { AgentLinkService, channelCredentials, type TlsFiles } from '@retrace/wire';
import { BatchQueue } from './batch-queue.js';

/** How long a connection may take to be welcomed before it is dropped and tried again. */
const CONNECT_TIMEOUT_MS = 15_000;
export interface AgentLinkOptions {
  /** host:port of the aggregator's agent service. */
  address: string;
  tls: TlsFiles;
  /** The registration, asked again at every (re)connect. */
  register: () => Register;
  onAssignments: (a: Assignments) => void;
  onState?: (state: LinkState, detail?: string) => void;
  /** Bytes of events each trace may hold while the aggregator is behind or away. */
  maxBytesPerTrace?: number;
  batchEvents?: number;
  /** Gathered events are cut into a batch at least this often. */
  flushMs?: number;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
}

export type LinkState = 'connecting' | 'connected' | 'disconnected' | 'refused';

type Call = ClientDuplexStream<AgentMessage, ServerMessage>;
const AgentLinkClient = makeGenericClientConstructor(AgentLinkService, 'AgentLink');

export class AgentLink {
  private client: Client | undefined;
  private call: Call | undefined;
  private blocked = false;
  private welcomed = false;
  private stopped = false;
  private backoff: number;
  private readonly queues = new Map<string, BatchQueue>();
  /** Control messages (attach results, status, completion) waiting for a connection. */
  private control: AgentMessage[] = [];
  private lastHeard = 0;
  private heartbeatMs = 1000;
  private deadlineMs = 5000;
  private timers: NodeJS.Timeout[] = [];
  private reconnectTimer: NodeJS.Timeout | undefined;
  /** The registration sent on the current stream (the Welcome's cursors are for its incarnation). */
  private registered: Register | undefined;
  state: LinkState = 'disconnected';
  /** Connections made, for status and tests. */
  connects = 0;

  constructor(private readonly opts: AgentLinkOptions) {
    this.backoff = opts.reconnectMinMs ?? 200;
  }

  start(): void {
    this.client = new AgentLinkClient(this.opts.address, channelCredentials(this.opts.tls), {
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      'grpc.max_receive_message_length': 64 << 20,
      'grpc.max_send_message_length': 64 << 20,
      // The channel's own reconnect backoff (grpc-js: up to 120 s) would outlast ours: an
      // aggregator that restarts (a new Pod, a new address behind its Service) is found again
      // within our bound, not minutes later.
      'grpc.initial_reconnect_backoff_ms': this.opts.reconnectMinMs ?? 200,
      'grpc.max_reconnect_backoff_ms': this.opts.reconnectMaxMs ?? 5000,
    });
    this.timers.push(setInterval(() => this.tick(), this.opts.flushMs ?? 50));
    this.connect();
  }

  /** The queue of a trace (made on first use). */
  queue(trace: string): BatchQueue {
    let q = this.queues.get(trace);
    if (!q) {
      q = new BatchQueue(trace, {
        maxBytes: this.opts.maxBytesPerTrace ?? 64 << 20,
        ...(this.opts.batchEvents ? { batchEvents: this.opts.batchEvents } : {}),
      });
      this.queues.set(trace, q);
    }
    return q;
  }

  /** Forgets a trace's queue once everything in it is acknowledged (or at once with force). */
  dropQueue(trace: string, force = false): boolean {
    const q = this.queues.get(trace);
    if (!q) return true;
    if (!force && !q.idle) return false;
    this.queues.delete(trace);
    return true;
  }

  /** Sends a control message now, or at the next connection. */
  send(msg: AgentMessage): void {
    // A newer status of a trace replaces an older one still waiting.
    if (msg.status) {
      const trace = msg.status.trace;
      this.control = this.control.filter((m) => m.status?.trace !== trace);
    }
    this.control.push(msg);
    if (this.control.length > 10_000) this.control.splice(0, this.control.length - 10_000);
    this.pump();
  }

  /** Every queue is empty and acknowledged. */
  allIdle(): boolean {
    return !this.control.length && [...this.queues.values()].every((q) => q.idle);
  }

  /** Per trace, events not acknowledged yet (what stopping now would lose). */
  unacknowledged(): { trace: string; events: number }[] {
    return [...this.queues.values()]
      .filter((q) => q.unacknowledged)
      .map((q) => ({ trace: q.trace, events: q.unacknowledged }));
  }

  get connected(): boolean {
    return this.welcomed;
  }

  /**
   * Closes the stream on purpose: a Goodbye first, so that the aggregator tells this from an
   * agent that died (a stream ending without one is a lost agent). Resolves once the stream is
   * closed, or after a second at most.
   */
  async stop(reason = 'the agent is stopping'): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const call = this.call;
    if (call && this.welcomed) {
      call.write({ goodbye: { reason } });
      call.end();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1000);
        const done = (): void => {
          clearTimeout(timer);
          resolve();
        };
        call.once('end', done);
        call.once('error', done);
        call.once('close', done);
        call.resume(); // the server's end arrives as the stream is read to its end
      });
    }
    call?.cancel();
    this.client?.close();
  }

  private setState(s: LinkState, detail?: string): void {
    this.state = s;
    this.opts.onState?.(s, detail);
  }

  private connect(): void {
    if (this.stopped) return;
    this.setState('connecting');
    const call = (this.client as unknown as { Connect: () => Call }).Connect();
    this.call = call;
    this.blocked = false;
    this.welcomed = false;
    this.lastHeard = Date.now();
    call.on('data', (m: ServerMessage) => this.onMessage(call, m));
    call.on('drain', () => {
      this.blocked = false;
      this.pump();
    });
    const lost = (why: string): void => {
      if (this.call !== call) return;
      // A connection reset before any welcome is most often a TLS refusal: the server cannot say
      // why in the handshake, so the agent says what to check.
      if (
        !this.welcomed &&
        /ECONNRESET|socket hang up|handshake|certificate|Failed to connect/i.test(why) &&
        !/ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|EAI_AGAIN/.test(why)
      )
        why +=
          ' (the aggregator closed the connection before welcoming this agent: most often it does not ' +
          'accept its certificate: signed by another CA than its --ca, expired, or not bound to this node)';
      this.call = undefined;
      this.welcomed = false;
      if (this.state !== 'refused') this.setState('disconnected', why);
      this.scheduleReconnect();
    };
    call.on('error', (e: Error) => lost(e.message));
    call.on('end', () => lost('the aggregator ended the stream'));
    call.on('close', () => lost('stream closed'));
    this.registered = this.opts.register();
    call.write({ register: this.registered });
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.state === 'refused' || this.reconnectTimer) return;
    const wait = this.backoff * (0.75 + Math.random() * 0.5);
    this.backoff = Math.min(this.backoff * 2, this.opts.reconnectMaxMs ?? 5000);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect();
    }, wait);
  }

  private onMessage(call: Call, m: ServerMessage): void {
    if (call !== this.call) return;
    this.lastHeard = Date.now();
    if (m.welcome) this.onWelcome(m.welcome);
    else if (m.assignments) this.opts.onAssignments(m.assignments);
    else if (m.ack) this.queues.get(m.ack.trace)?.ack(m.ack.seq);
    else if (m.error) {
      if (m.error.fatal) {
        this.setState('refused', m.error.message);
        call.cancel();
      } else this.opts.onState?.(this.state, `aggregator: ${m.error.message}`);
    }
  }

  private onWelcome(w: Welcome): void {
    if (w.heartbeat_ms) this.heartbeatMs = w.heartbeat_ms;
    if (w.deadline_ms) this.deadlineMs = w.deadline_ms;
    const inc = this.registered?.incarnation;
    const cursors = new Map((w.cursors ?? []).filter((c) => c.incarnation === inc).map((c) => [c.trace, c.last_seq]));
    // What the aggregator has of this run is not written again; everything else is, in order.
    for (const q of this.queues.values()) q.rewind(cursors.get(q.trace) ?? 0n);
    this.welcomed = true;
    this.connects++;
    this.backoff = this.opts.reconnectMinMs ?? 200;
    this.setState('connected');
    this.pump();
  }

  private lastBeat = 0;
  private tick(): void {
    const now = Date.now();
    for (const q of this.queues.values()) q.cut();
    // Connecting (TLS, registration) gets more time than a running stream's heartbeat deadline.
    const limit = this.welcomed ? this.deadlineMs : Math.max(this.deadlineMs, CONNECT_TIMEOUT_MS);
    if (this.call && now - this.lastHeard > limit) {
      // A stalled stream (nothing, not even a heartbeat, within the deadline), or a connection
      // that never completes (an address behind a Service that is gone: SYNs unanswered).
      const call = this.call;
      const welcomed = this.welcomed;
      this.call = undefined;
      this.welcomed = false;
      call.cancel();
      this.setState(
        'disconnected',
        welcomed
          ? `no message from the aggregator for ${now - this.lastHeard} ms`
          : `no answer from the aggregator ${now - this.lastHeard} ms after connecting`,
      );
      this.scheduleReconnect();
      return;
    }
    if (this.call && this.welcomed) {
      if (now - this.lastBeat >= this.heartbeatMs) {
        this.lastBeat = now;
        this.write({ heartbeat: { sent_ns: BigInt(now) * 1_000_000n } });
      }
    }
    this.pump();
  }

  private write(msg: AgentMessage): boolean {
    if (!this.call) return false;
    if (!this.call.write(msg)) this.blocked = true;
    return true;
  }

  /** Writes control messages and batches until HTTP/2 says stop. */
  private pump(): void {
    if (!this.call || !this.welcomed) return;
    while (!this.blocked && this.control.length) this.write(this.control.shift() as AgentMessage);
    let progress = true;
    while (!this.blocked && progress) {
      progress = false;
      for (const q of this.queues.values()) {
        if (this.blocked) break;
        const b = q.nextUnsent();
        if (b) {
          this.write(b.message as unknown as AgentMessage); // already encoded: written as is
          progress = true;
        }
      }
    }
  }
}
