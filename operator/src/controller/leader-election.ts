// Leader election with a coordination.k8s.io Lease, as Kubernetes controllers do: the holder
// renews the lease's renewTime; another replica takes it over only when it has not been renewed
// for its whole duration. The API server's optimistic concurrency (409 on a stale
// resourceVersion) decides races. A leader that cannot renew for a lease duration steps down.
import { V1MicroTime, type V1Lease } from '@kubernetes/client-node';
import { apiMessage, apiStatus, type KubeApi } from './kube-api.js';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewMs?: number;
  retryMs?: number;
  onStarted: () => void;
  onStopped: () => void;
  log?: (msg: string) => void;
}

export class LeaderElector {
  isLeader = false;
  private timer: NodeJS.Timeout | undefined;
  private lastRenew = 0;
  private stopped = false;
  private readonly durationMs: number;

  constructor(
    private readonly api: KubeApi,
    private readonly o: LeaderElectionOptions,
  ) {
    this.durationMs = o.leaseDurationMs ?? 15_000;
  }

  start(): void {
    void this.tick();
  }

  /** Stops; a leader releases the lease so another replica takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (!this.isLeader) return;
    this.isLeader = false;
    try {
      const l = await this.api.readLease(this.o.namespace, this.o.name);
      if (l?.spec?.holderIdentity === this.o.identity) {
        l.spec.holderIdentity = '';
        await this.api.replaceLease(this.o.namespace, l);
      }
    } catch {
      // another replica takes over when the lease expires
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(
      () => void this.tick(),
      this.isLeader ? (this.o.renewMs ?? 5000) : (this.o.retryMs ?? 2000),
    );
  }

  private async tick(): Promise<void> {
    try {
      if (await this.tryAcquireOrRenew()) {
        this.lastRenew = Date.now();
        if (!this.isLeader && !this.stopped) {
          this.isLeader = true;
          this.o.log?.(`became the leader (lease ${this.o.namespace}/${this.o.name})`);
          this.o.onStarted();
        }
      } else this.lose('another replica holds the lease');
    } catch (e) {
      if (this.isLeader && Date.now() - this.lastRenew > this.durationMs)
        this.lose(`could not renew the lease for ${this.durationMs} ms: ${apiMessage(e)}`);
      else this.o.log?.(`lease ${this.o.namespace}/${this.o.name}: ${apiMessage(e)}`);
    }
    this.schedule();
  }

  private lose(why: string): void {
    if (!this.isLeader) return;
    this.isLeader = false;
    this.o.log?.(`no longer the leader: ${why}`);
    this.o.onStopped();
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = new V1MicroTime(Date.now());
    const l = await this.api.readLease(this.o.namespace, this.o.name);
    const spec = {
      holderIdentity: this.o.identity,
      leaseDurationSeconds: Math.ceil(this.durationMs / 1000),
      renewTime: now,
    };
    if (!l) {
      try {
        await this.api.createLease(this.o.namespace, {
          metadata: { name: this.o.name, namespace: this.o.namespace },
          spec: { ...spec, acquireTime: now, leaseTransitions: 0 },
        });
        return true;
      } catch (e) {
        if (apiStatus(e) === 409) return false; // another replica created it first
        throw e;
      }
    }
    const s = l.spec ?? {};
    const mine = s.holderIdentity === this.o.identity;
    if (!mine && s.holderIdentity) {
      const renewed = s.renewTime ? new Date(s.renewTime).getTime() : 0;
      const duration = (s.leaseDurationSeconds ?? 15) * 1000;
      if (Date.now() - renewed < duration) return false; // held, and fresh
    }
    const next: V1Lease = {
      ...l,
      spec: {
        ...s,
        ...spec,
        ...(mine ? {} : { acquireTime: now, leaseTransitions: (s.leaseTransitions ?? 0) + 1 }),
      },
    };
    try {
      await this.api.replaceLease(this.o.namespace, next);
      return true;
    } catch (e) {
      if (apiStatus(e) === 409) return false; // changed under us: someone else renewed or took it
      throw e;
    }
  }
}
