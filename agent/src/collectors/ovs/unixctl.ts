// ovs-vswitchd's control socket (what ovs-appctl talks to): JSON-RPC 1.0 over a Unix socket at
// $OVS_RUNDIR/ovs-vswitchd.PID.ctl, one request at a time. Replies are JSON objects with no
// framing, so a reply ends where its object does. Requests wait for the one before to be answered.
import { existsSync, readFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';

export class UnixctlError extends Error {
  override readonly name = 'UnixctlError';
}

/** The control socket of the ovs-vswitchd whose pid file is in rundir. */
export function vswitchdControlPath(rundir = process.env['OVS_RUNDIR'] ?? '/var/run/openvswitch'): string {
  const pidFile = `${rundir}/ovs-vswitchd.pid`;
  let pid: string;
  try {
    pid = readFileSync(pidFile, 'utf8').trim();
  } catch {
    throw new UnixctlError(
      `no ovs-vswitchd pid file at ${pidFile}: is ovs-vswitchd running? (set OVS_RUNDIR to its run directory)`,
    );
  }
  const path = `${rundir}/ovs-vswitchd.${pid}.ctl`;
  if (!existsSync(path)) throw new UnixctlError(`ovs-vswitchd (pid ${pid}) has no control socket at ${path}`);
  return path;
}

/** Where the first complete JSON object of s ends (its length), or 0 while it is incomplete. */
export function jsonObjectEnd(s: string): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return 0;
}

interface Pending {
  resolve(v: string): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

export class Unixctl {
  private socket: Socket | undefined;
  private buffer = '';
  private nextId = 0;
  private pending: Pending | undefined;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly path: string,
    private readonly timeoutMs = 500,
  ) {}

  /** Runs a command (as `ovs-appctl CMD ARGS...`) after those before it; resolves with its text output. */
  run(method: string, params: string[] = []): Promise<string> {
    const result = this.tail.then(
      () => this.send(method, params),
      () => this.send(method, params),
    );
    this.tail = result.catch(() => undefined);
    return result;
  }

  private send(method: string, params: string[]): Promise<string> {
    const socket = this.connect();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = undefined;
        this.close(); // a late reply must not answer the next request
        reject(new UnixctlError(`ovs-vswitchd did not answer ${method} within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending = { resolve, reject, timer };
      socket.write(JSON.stringify({ method, params, id: this.nextId++ }));
    });
  }

  close(): void {
    const s = this.socket;
    this.socket = undefined;
    this.buffer = '';
    s?.destroy();
  }

  private connect(): Socket {
    if (this.socket) return this.socket;
    const s = createConnection(this.path);
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      this.buffer += d;
      for (let end = jsonObjectEnd(this.buffer); end > 0; end = jsonObjectEnd(this.buffer)) {
        const text = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end).trimStart();
        this.answer(text);
      }
    });
    // A socket given up (close(), a timeout) must not fail the requests of the next one.
    s.on('error', (e) => {
      if (this.socket === s) this.fail(new UnixctlError(`ovs-vswitchd control socket ${this.path}: ${e.message}`));
    });
    s.on('close', () => {
      if (this.socket !== s) return;
      this.socket = undefined;
      this.fail(new UnixctlError(`ovs-vswitchd closed its control socket ${this.path}`));
    });
    this.socket = s;
    return s;
  }

  private answer(text: string): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    clearTimeout(p.timer);
    let reply: { result?: unknown; error?: unknown };
    try {
      reply = JSON.parse(text) as { result?: unknown; error?: unknown };
    } catch {
      p.reject(new UnixctlError(`ovs-vswitchd sent what is not JSON: ${text.slice(0, 80)}`));
      return;
    }
    if (reply.error !== null && reply.error !== undefined) p.reject(new UnixctlError(String(reply.error).trim()));
    else p.resolve(typeof reply.result === 'string' ? reply.result : '');
  }

  private fail(e: Error): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    clearTimeout(p.timer);
    p.reject(e);
  }
}
