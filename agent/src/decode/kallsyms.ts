// Kernel addresses to `symbol+0xoffset`, from /proc/kallsyms (read once, searched by bisection).
import { readFileSync } from 'node:fs';

/** Text (code) symbols of a /proc/kallsyms listing: [address as hex, name]. */
export function* textSymbols(text: string): Generator<[string, string]> {
  for (const line of text.split('\n')) {
    const [addr, type, name] = line.split(/\s+/);
    if (addr && name && type && /[tTwW]/.test(type)) yield [addr, name];
  }
}

export class Kallsyms {
  private addrs: bigint[] = [];
  private names: string[] = [];

  constructor(text: string = readFileSync('/proc/kallsyms', 'utf8')) {
    const entries: [bigint, string][] = [];
    for (const [addr, name] of textSymbols(text)) {
      const a = BigInt(`0x${addr}`);
      if (a !== 0n) entries.push([a, name]);
    }
    entries.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
    this.addrs = entries.map((e) => e[0]);
    this.names = entries.map((e) => e[1]);
  }

  /** Every address of a function name (static functions of the same name are several). */
  addressesOf(name: string): bigint[] {
    if (!this.byName) {
      this.byName = new Map();
      this.names.forEach((n, i) => {
        const list = this.byName?.get(n) ?? [];
        list.push(this.addrs[i] ?? 0n);
        this.byName?.set(n, list);
      });
    }
    return this.byName.get(name) ?? [];
  }

  private byName: Map<string, bigint[]> | undefined;

  /** Whether addresses are visible (kptr_restrict hides them from unprivileged readers). */
  get usable(): boolean {
    return this.addrs.length > 0;
  }

  symbolize(addr: bigint): string {
    let lo = 0;
    let hi = this.addrs.length - 1;
    if (hi < 0 || addr < (this.addrs[0] ?? 0n)) return `0x${addr.toString(16)}`;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.addrs[mid] ?? 0n) <= addr) lo = mid;
      else hi = mid - 1;
    }
    return `${this.names[lo]}+0x${(addr - (this.addrs[lo] ?? 0n)).toString(16)}`;
  }
}
