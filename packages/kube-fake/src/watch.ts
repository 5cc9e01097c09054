// `?watch=true`: one JSON event per line, filtered by namespace and selectors, with bookmarks
// and timeoutSeconds, and a 410 ERROR event when the requested history is gone.
import type { ServerResponse } from 'node:http';
import { StatusError } from './errors.js';
import type { KubeObject } from './json.js';
import { apiVersionOf, type Target } from './resource-type.js';
import type { Store, StoreEvent } from './store.js';

export interface WatchRequest extends Target {
  /** Start after this resourceVersion; undefined sends the current objects first. */
  from?: number;
  filter: (obj: KubeObject) => boolean;
  bookmarks: boolean;
  bookmarkIntervalMs: number;
  timeoutSeconds?: number;
}

/** What a watcher with a selector sees: objects entering or leaving it are ADDED or DELETED. */
function eventType(e: StoreEvent, inScope: (o?: KubeObject) => boolean): string | undefined {
  const now = inScope(e.object);
  if (e.type !== 'MODIFIED') return now ? e.type : undefined;
  const before = inScope(e.prev);
  if (now) return before ? 'MODIFIED' : 'ADDED';
  return before ? 'DELETED' : undefined;
}

export function serveWatch(store: Store, res: ServerResponse, w: WatchRequest): void {
  const send = (type: string, object: unknown): void => {
    if (!res.writableEnded) res.write(`${JSON.stringify({ type, object })}\n`);
  };
  const inScope = (o?: KubeObject): boolean =>
    !!o && (w.ns === undefined || o.metadata.namespace === w.ns) && w.filter(o);
  const bookmark = (): void =>
    send('BOOKMARK', {
      kind: w.rt.kind,
      apiVersion: apiVersionOf(w.rt.group, w.version),
      metadata: { resourceVersion: store.resourceVersion },
    });
  const timers: NodeJS.Timeout[] = [];
  let unsubscribe = (): void => {};
  const end = (): void => {
    timers.forEach(clearTimeout);
    unsubscribe();
    if (!res.writableEnded) res.end();
  };
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache' });
  res.flushHeaders();
  res.on('close', end);
  try {
    unsubscribe = store.watch(w.rt, w.from, {
      event: (e) => {
        const type = eventType(e, inScope);
        if (type) send(type, store.present(w, e.object));
      },
      close: end,
    });
  } catch (e) {
    if (!(e instanceof StatusError)) throw e;
    send('ERROR', e.toStatus());
    return end();
  }
  if (w.bookmarks) timers.push(setInterval(bookmark, w.bookmarkIntervalMs));
  if (w.timeoutSeconds !== undefined) {
    timers.push(
      setTimeout(() => {
        if (w.bookmarks) bookmark();
        end();
      }, w.timeoutSeconds * 1000),
    );
  }
}
