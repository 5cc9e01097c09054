import { statSync } from 'node:fs';
import { run, tryRun } from './exec.js';

/** Every namespace this project creates starts with this, so leftovers can be found and removed. */
export const NETNS_PREFIX = 'rtlab-';

const live = new Set<Netns>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Best effort for crashes; tests still tear down explicitly in finally/afterAll.
  process.once('exit', () => {
    for (const ns of live) ns.destroy();
  });
}

/** A named network namespace (`ip netns`), removed with destroy(). */
export class Netns {
  readonly name: string;

  private constructor(name: string) {
    this.name = name;
  }

  /** Creates `rtlab-<label>-<pid>-<n>` with its loopback up. */
  static create(label: string): Netns {
    installExitHook();
    const name = `${NETNS_PREFIX}${label}-${process.pid}-${live.size}`;
    run(['ip', 'netns', 'add', name]);
    const ns = new Netns(name);
    live.add(ns);
    ns.ip('link', 'set', 'lo', 'up');
    return ns;
  }

  /** Runs a command inside the namespace. */
  exec(argv: string[], input?: string): string {
    return run(['ip', 'netns', 'exec', this.name, ...argv], input);
  }

  /** `ip -n NAME ...` */
  ip(...args: string[]): string {
    return run(['ip', '-n', this.name, ...args]);
  }

  /** Loads an nftables ruleset inside the namespace (`nft -f -`). */
  nft(ruleset: string): void {
    this.exec(['nft', '-f', '-'], ruleset);
  }

  /** Inode of the namespace: what the kernel calls its ns.inum (skb->dev->nd_net.net->ns.inum). */
  get inode(): number {
    return statSync(`/run/netns/${this.name}`).ino;
  }

  /** Sends one UDP datagram from inside the namespace (bash's /dev/udp, no extra tools). */
  sendUdp(address: string, port: number, payload = 'retrace'): void {
    this.exec(['bash', '-c', `printf '%s' "$1" > /dev/udp/${address}/${port}`, 'sendudp', payload]);
  }

  destroy(): void {
    if (!live.has(this)) return;
    tryRun(['ip', 'netns', 'del', this.name]);
    live.delete(this);
  }
}

/** Names of the namespaces `ip netns` knows now. */
export function listNetns(): string[] {
  return run(['ip', 'netns', 'list'])
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter(Boolean);
}

/** Runs fn with fresh namespaces, destroying them afterwards whatever happens. */
export async function withNetns<T>(labels: string[], fn: (...ns: Netns[]) => Promise<T> | T): Promise<T> {
  const created: Netns[] = [];
  try {
    for (const l of labels) created.push(Netns.create(l));
    return await fn(...created);
  } finally {
    for (const ns of created) ns.destroy();
  }
}
