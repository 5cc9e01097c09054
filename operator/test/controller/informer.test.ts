// The list-watch cache over client-node's ListWatch, against a scripted API: the first list,
// watch events, bookmarks and resuming from them, 410 Gone (as an error and as an ERROR event)
// listing again and reporting only what changed, failures retried with backoff, the periodic
// relist, and nothing reported after stop.
import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { Informer, type Change } from '../../src/controller/informer.js';
import type { WatchEventType } from '../../src/controller/kube-api.js';

interface Obj extends KubernetesObject {
  metadata: { name: string; namespace?: string; resourceVersion: string };
}

interface OpenWatch {
  rv: string;
  onEvent: (type: WatchEventType, obj: KubernetesObject) => void;
  done: (err: unknown) => void;
  ctl: AbortController;
}

const obj = (name: string, rv: number): Obj => ({ metadata: { name, namespace: 'ns', resourceVersion: String(rv) } });

/** The API server as the informer sees it: objects at a resourceVersion, lists, watches. */
class ScriptedApi {
  readonly config = new KubeConfig();
  objects: Obj[] = [];
  rv = 10;
  lists = 0;
  /** Errors the next lists fail with. */
  listErrors: Error[] = [];
  watches: OpenWatch[] = [];

  async list(): Promise<{ items: KubernetesObject[]; resourceVersion: string }> {
    this.lists++;
    const err = this.listErrors.shift();
    if (err) throw err;
    return { items: this.objects.map((o) => structuredClone(o)), resourceVersion: String(this.rv) };
  }

  async watch(
    _what: string,
    rv: string,
    onEvent: OpenWatch['onEvent'],
    done: OpenWatch['done'],
  ): Promise<AbortController> {
    const ctl = new AbortController();
    let ended = false;
    const once = (err: unknown): void => {
      if (ended) return;
      ended = true;
      done(err);
    };
    // As client-node's Watch: an aborted request ends with an AbortError.
    ctl.signal.addEventListener('abort', () => once(Object.assign(new Error('aborted'), { name: 'AbortError' })));
    this.watches.push({ rv, onEvent, done: once, ctl });
    return ctl;
  }

  get current(): OpenWatch {
    const w = this.watches.at(-1);
    if (!w) throw new Error('no watch');
    return w;
  }
}

const statusError = (code: number, message: string): Error => Object.assign(new Error(message), { statusCode: code });

async function until(what: string, ok: () => boolean): Promise<void> {
  for (const end = Date.now() + 5000; !ok(); await new Promise((r) => setTimeout(r, 5)))
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
}

let api: ScriptedApi;
let seen: string[];
let logs: string[];
let informer: Informer<Obj>;

function make(opts: { relistMs?: number } = {}): Informer<Obj> {
  informer = new Informer<Obj>(api, 'pods', (c: Change, o: Obj) => seen.push(`${c} ${o.metadata.name}`), {
    retryMs: 5,
    log: (m) => logs.push(m),
    ...opts,
  });
  return informer;
}

beforeEach(() => {
  api = new ScriptedApi();
  api.objects = [obj('a', 1), obj('b', 2)];
  seen = [];
  logs = [];
});

afterEach(() => informer?.stop());

test('lists, then watches from the list; events update the cache and are reported', async () => {
  await make().start();
  expect(seen).toEqual(['added a', 'added b']);
  expect(informer.synced).toBe(true);
  await until('the watch', () => api.watches.length === 1);
  expect(api.current.rv).toBe('10');
  api.current.onEvent('MODIFIED', obj('a', 11));
  api.current.onEvent('ADDED', obj('c', 12));
  api.current.onEvent('DELETED', obj('b', 13));
  expect(seen.slice(2)).toEqual(['modified a', 'added c', 'deleted b']);
  expect(informer.get('ns/a')?.metadata.resourceVersion).toBe('11');
  expect(informer.get('ns/b')).toBeUndefined();
  expect(
    informer
      .values()
      .map((o) => o.metadata.name)
      .sort(),
  ).toEqual(['a', 'c']);
});

test('a watch the server ends resumes from the last event or bookmark, without listing', async () => {
  await make().start();
  await until('the watch', () => api.watches.length === 1);
  api.current.onEvent('MODIFIED', obj('a', 20));
  api.current.onEvent('BOOKMARK', { metadata: { resourceVersion: '42' } });
  api.current.done(null); // the server's timeout
  await until('the next watch', () => api.watches.length === 2);
  expect(api.current.rv).toBe('42');
  expect(api.lists).toBe(1);
  expect(seen).toEqual(['added a', 'added b', 'modified a']);
});

test('410 Gone lists again and reports only what changed; so does an ERROR event of 410', async () => {
  await make().start();
  await until('the watch', () => api.watches.length === 1);
  api.objects = [obj('a', 1), obj('b', 30), obj('d', 31)];
  api.rv = 31;
  api.current.done(statusError(410, 'too old resource version'));
  await until('the relist', () => api.watches.length === 2);
  expect(api.lists).toBe(2);
  expect(api.current.rv).toBe('31');
  expect(seen.slice(2)).toEqual(['modified b', 'added d']);

  api.objects = [obj('a', 1), obj('d', 31)];
  api.rv = 40;
  api.current.onEvent('ERROR', { kind: 'Status', code: 410 } as KubernetesObject);
  api.current.done(null); // the server closes the watch after the ERROR
  await until('the second relist', () => api.watches.length === 3);
  expect(api.lists).toBe(3);
  expect(seen.slice(4)).toEqual(['deleted b']);
  expect(logs.join('\n')).toMatch(/pods: watch history expired \(410 Gone\)/);
});

test('a failing list is retried until it works; start() waits for it', async () => {
  api.listErrors = [statusError(429, 'storage is (re)initializing'), statusError(404, 'not found')];
  await make().start();
  expect(api.lists).toBe(3);
  expect(seen).toEqual(['added a', 'added b']);
  expect(logs.filter((l) => /^cannot list pods: .*retrying in \d+ ms$/.test(l))).toHaveLength(2);
});

test('a failed watch is retried from where it was, without listing', async () => {
  await make().start();
  await until('the watch', () => api.watches.length === 1);
  api.current.onEvent('MODIFIED', obj('b', 15));
  api.current.done(statusError(500, 'internal error'));
  await until('the retried watch', () => api.watches.length === 2);
  expect(api.current.rv).toBe('15');
  expect(api.lists).toBe(1);
  expect(logs.join('\n')).toMatch(/cannot watch pods: internal error; retrying in 5 ms/);
});

test('the periodic relist lists again and reports nothing when nothing changed', async () => {
  await make({ relistMs: 30 }).start();
  await until('two relists', () => api.lists >= 3);
  await until('the watch after them', () => api.watches.length >= 3);
  expect(seen).toEqual(['added a', 'added b']);
  expect(logs.join('\n')).toMatch(/pods: periodic relist; listing again/);
});

test('after stop nothing is reported and the watch is closed', async () => {
  await make().start();
  await until('the watch', () => api.watches.length === 1);
  const w = api.current;
  informer.stop();
  expect(w.ctl.signal.aborted).toBe(true);
  w.onEvent('ADDED', obj('late', 50));
  await new Promise((r) => setTimeout(r, 30));
  expect(seen).toEqual(['added a', 'added b']);
  expect(api.watches).toHaveLength(1);
});
