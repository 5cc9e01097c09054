// A list-watch cache of one resource: client-node's ListWatch lists, watches from the list's
// resourceVersion, follows bookmarks, and lists again after a 410 Gone (history compacted),
// reporting what a relist changed like watch events. What it leaves to its user is here: watches
// ask for bookmarks and end at the server's timeout (kube-api.ts), a failed list or watch is
// retried with backoff (ListWatch stops at an error), start() waits for the first list, and a
// periodic relist repairs anything a watch missed.
import { ListWatch, type KubernetesListObject, type KubernetesObject, type Watch } from '@kubernetes/client-node';
import type { Named } from './kube-types.js';
import { apiMessage, apiStatus, type KubeApi, type Watched, type WatchEventType } from './kube-api.js';

export type Change = 'added' | 'modified' | 'deleted';

export interface InformerOptions {
  /** Full relist period (default 5 minutes). */
  relistMs?: number;
  /** Wait after a failed list or watch before trying again (default 1 s, doubling to 30 s). */
  retryMs?: number;
  log?: (msg: string) => void;
}

/** Ends a watch so that ListWatch lists again: what it does after a 410 Gone. */
class ListAgain extends Error {
  readonly statusCode = 410;
  constructor(why: string) {
    super(why);
    this.name = 'ListAgain';
  }
}

type WatchDone = (err: unknown) => void;

/**
 * T: the objects' shape. Traces are plain JSON whose timestamps are strings, which client-node's
 * KubernetesObject (timestamps as Date) does not describe: the cache holds them untyped.
 */
export class Informer<T extends Named> {
  private readonly cache: ListWatch<KubernetesObject>;
  private stopped = false;
  private failures = 0;
  private step: 'list' | 'watch' = 'list';
  private relistTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Ends the running watch (undefined while none runs). */
  private endWatch: WatchDone | undefined;
  private firstList: () => void = () => undefined;
  /** Lists made (the first, then after 410s, failures and periodic relists). */
  lists = 0;
  synced = false;

  constructor(
    private readonly api: Pick<KubeApi, 'config' | 'list' | 'watch'>,
    readonly what: Watched,
    onChange: (change: Change, obj: T) => void,
    private readonly opts: InformerOptions = {},
  ) {
    const watch: Watch = { config: api.config, watch: (_path, params, cb, done) => this.watch(params, cb, done) };
    this.cache = new ListWatch(what, watch, () => this.list(), false);
    const report = (change: Change) => (o: KubernetesObject) => {
      if (!this.stopped) onChange(change, o as T);
    };
    this.cache.on('add', report('added'));
    this.cache.on('update', report('modified'));
    this.cache.on('delete', report('deleted'));
    this.cache.on('error', (e: unknown) => this.retry(e));
  }

  /**
   * Resolves once the first list is in the cache (or on stop()). A failed list is retried with
   * backoff, not thrown: right after its CRD is created the API server answers 429 ("storage is
   * (re)initializing") until its watch cache is ready, and RBAC may not be in place yet.
   */
  async start(): Promise<void> {
    const listed = new Promise<void>((resolve) => (this.firstList = resolve));
    this.relistTimer = setInterval(() => this.relist('periodic relist'), this.opts.relistMs ?? 300_000);
    this.relistTimer.unref();
    this.run();
    await listed;
  }

  stop(): void {
    this.stopped = true;
    this.firstList();
    clearInterval(this.relistTimer);
    clearTimeout(this.retryTimer);
    void this.cache.stop();
  }

  values(): T[] {
    return this.cache.list() as unknown[] as T[];
  }

  /** By objectKey: `namespace/name`, or `name`. */
  get(key: string): T | undefined {
    const slash = key.indexOf('/');
    const obj = slash < 0 ? this.cache.get(key) : this.cache.get(key.slice(slash + 1), key.slice(0, slash));
    return obj as T | undefined;
  }

  /** Lists (when ListWatch has no resourceVersion to resume from) and watches. */
  private run(): void {
    clearTimeout(this.retryTimer);
    if (this.stopped) return;
    this.cache.start().catch((e: unknown) => this.retry(e));
  }

  private async list(): Promise<KubernetesListObject<KubernetesObject>> {
    this.step = 'list';
    const r = await this.api.list(this.what);
    this.lists++;
    this.failures = 0;
    return { metadata: { resourceVersion: r.resourceVersion }, items: r.items };
  }

  /** ListWatch's watch: kube-api's (bookmarks, server timeout), ended as ListWatch expects. */
  private async watch(
    params: Record<string, string | number | boolean | undefined>,
    onEvent: (type: string, obj: KubernetesObject) => void,
    done: WatchDone,
  ): Promise<AbortController> {
    // The list (if any) is in the cache now.
    this.synced = true;
    this.firstList();
    const aborted = new AbortController();
    aborted.abort();
    if (this.stopped) return aborted;
    this.step = 'watch';
    let ended = false;
    const end: WatchDone = (err) => {
      if (ended) return;
      ended = true;
      if (this.endWatch === end) this.endWatch = undefined;
      // ListWatch takes its next step in `done`; called before this call has returned, it would
      // then keep this dead request as its current one instead of the next.
      setImmediate(() => done(err));
    };
    this.endWatch = end;
    const seen = (type: WatchEventType, obj: KubernetesObject): void => {
      this.failures = 0;
      if (type === 'ERROR' && apiStatus(obj) === 410) this.opts.log?.(`${this.what}: watch history expired (410 Gone)`);
      onEvent(type, obj);
    };
    try {
      return await this.api.watch(this.what, String(params.resourceVersion ?? ''), seen, (err) => {
        // The server's timeout, or client-node's on a silent watch: resume where it was.
        const name = (err as Error | null | undefined)?.name;
        end(name === 'AbortError' || name === 'TimeoutError' ? null : err);
      });
    } catch (e) {
      end(e);
      return aborted;
    }
  }

  private relist(why: string): void {
    if (this.stopped || !this.endWatch) return; // no watch running: a retry lists when it runs
    this.opts.log?.(`${this.what}: ${why}; listing again`);
    this.endWatch(new ListAgain(why));
  }

  private retry(err: unknown): void {
    if (this.stopped) return;
    const wait = Math.min(30_000, (this.opts.retryMs ?? 1000) * 2 ** this.failures++);
    this.opts.log?.(`cannot ${this.step} ${this.what}: ${apiMessage(err)}; retrying in ${wait} ms`);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.run(), wait);
  }
}
