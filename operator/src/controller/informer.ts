// A list-watch cache of one resource: list, then watch from the list's resourceVersion (with
// bookmarks, so a reconnect resumes from recent history); a 410 Gone (history compacted) or a
// broken watch lists again; a periodic relist repairs anything a watch missed. Changes found by
// a relist are reported like watch events, so handlers see one stream either way.
import { objectKey, type KubeObject } from './kube-types.js';
import { apiMessage, apiStatus, type KubeApi, type Watched, type WatchEventType } from './kube-api.js';

export type Change = 'added' | 'modified' | 'deleted';

export interface InformerOptions {
  /** Full relist period (default 5 minutes). */
  relistMs?: number;
  /** Wait after a failed list or watch before trying again (default 1 s, doubling to 30 s). */
  retryMs?: number;
  log?: (msg: string) => void;
}

export class Informer<T extends KubeObject> {
  private readonly objects = new Map<string, T>();
  private resourceVersion = '';
  private abort: AbortController | undefined;
  private stopped = false;
  private relistTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private firstList: () => void = () => undefined;
  /** Lists made (the first, then after 410s, failures and periodic relists). */
  lists = 0;
  synced = false;

  constructor(
    private readonly api: KubeApi,
    readonly what: Watched,
    private readonly onChange: (change: Change, obj: T) => void,
    private readonly opts: InformerOptions = {},
  ) {}

  /**
   * Resolves once the first list is in the cache (or on stop()). A failed list is retried with
   * backoff, not thrown: right after its CRD is created the API server answers 429 ("storage is
   * (re)initializing") until its watch cache is ready, and RBAC may not be in place yet.
   */
  async start(): Promise<void> {
    const listed = new Promise<void>((resolve) => (this.firstList = resolve));
    this.relistTimer = setInterval(() => void this.restart('periodic relist'), this.opts.relistMs ?? 300_000);
    this.relistTimer.unref();
    void this.relist().catch(() => undefined); // relist() has scheduled the retry
    await listed;
  }

  stop(): void {
    this.firstList();
    this.stopped = true;
    clearInterval(this.relistTimer);
    clearTimeout(this.retryTimer);
    this.abort?.abort();
  }

  values(): IterableIterator<T> {
    return this.objects.values();
  }

  get(key: string): T | undefined {
    return this.objects.get(key);
  }

  private async restart(why: string): Promise<void> {
    if (this.stopped) return;
    this.opts.log?.(`${this.what}: ${why}; listing again`);
    const a = this.abort;
    this.abort = undefined; // its done() must not start another round
    a?.abort();
    try {
      await this.relist();
    } catch {
      // relist() already scheduled a retry
    }
  }

  private async relist(): Promise<void> {
    clearTimeout(this.retryTimer);
    let list;
    try {
      list = await this.api.list(this.what);
    } catch (e) {
      this.retry(`cannot list ${this.what}: ${apiMessage(e)}`);
      throw e;
    }
    if (this.stopped) return;
    this.lists++;
    const seen = new Set<string>();
    for (const o of list.items as T[]) {
      const key = objectKey(o);
      seen.add(key);
      const old = this.objects.get(key);
      this.objects.set(key, o);
      if (!old) this.onChange('added', o);
      else if (old.metadata.resourceVersion !== o.metadata.resourceVersion) this.onChange('modified', o);
    }
    for (const [key, o] of this.objects)
      if (!seen.has(key)) {
        this.objects.delete(key);
        this.onChange('deleted', o);
      }
    this.resourceVersion = list.resourceVersion;
    this.synced = true;
    await this.watch();
    this.firstList();
  }

  private async watch(): Promise<void> {
    if (this.stopped) return;
    let ctl: AbortController | undefined;
    const done = (err: unknown): void => {
      if (this.stopped || this.abort !== ctl) return; // replaced by a relist
      this.abort = undefined;
      // client-node ends a watch silent for 30 s with a TimeoutError: resume like a server timeout.
      const name = (err as Error | undefined)?.name;
      if (err && name !== 'AbortError' && name !== 'TimeoutError') {
        if (apiStatus(err) === 410) void this.restart('watch history expired (410 Gone)');
        else this.retry(`watch of ${this.what} failed: ${apiMessage(err)}`);
      } else void this.watch(); // the server's timeout: resume where it was
    };
    try {
      ctl = await this.api.watch(this.what, this.resourceVersion, (type, obj) => this.onEvent(type, obj), done);
      this.abort = ctl;
      this.failures = 0;
    } catch (e) {
      this.retry(`cannot watch ${this.what}: ${apiMessage(e)}`);
    }
  }

  private onEvent(type: WatchEventType | 'ERROR', obj: KubeObject): void {
    if ((type as string) === 'ERROR') {
      const code = (obj as unknown as { code?: number }).code;
      if (code === 410) void this.restart('watch history expired (410 Gone)');
      else this.retry(`watch of ${this.what} sent an error: ${(obj as unknown as { message?: string }).message}`);
      return;
    }
    if (obj.metadata?.resourceVersion) this.resourceVersion = obj.metadata.resourceVersion;
    if (type === 'BOOKMARK') return;
    const key = objectKey(obj);
    if (type === 'DELETED') {
      if (this.objects.delete(key)) this.onChange('deleted', obj as T);
      return;
    }
    const had = this.objects.has(key);
    this.objects.set(key, obj as T);
    this.onChange(had ? 'modified' : 'added', obj as T);
  }

  private retry(why: string): void {
    if (this.stopped) return;
    const a = this.abort;
    this.abort = undefined;
    a?.abort();
    const wait = Math.min(30_000, (this.opts.retryMs ?? 1000) * 2 ** this.failures++);
    this.opts.log?.(`${why}; retrying in ${wait} ms`);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.relist().catch(() => undefined), wait);
  }
}
