import type { NativeLink } from './native.js';

/**
 * One attachment. Detached by close(), by garbage collection of this object, or when the
 * process exits (nothing is pinned), so a crash cannot leave it in the kernel.
 */
export class Link {
  readonly target: string;
  private n: NativeLink | null;

  constructor(native: NativeLink, target: string) {
    this.n = native;
    this.target = target;
  }

  get closed(): boolean {
    return this.n === null;
  }

  /** Kernel link id, or undefined for composite links (USDT spans several uprobes). */
  get id(): number | undefined {
    return this.n?.info()?.id;
  }

  close(): void {
    this.n?.close();
    this.n = null;
  }
}
