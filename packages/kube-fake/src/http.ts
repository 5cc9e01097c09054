// HTTP routing: authentication, discovery, and the REST verbs on resource paths.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { discovery, VERSION_INFO } from './discovery.js';
import { badRequest, pathNotFound, StatusError } from './errors.js';
import { isObj } from './json.js';
import type { Registry, Target } from './resource-type.js';
import { objectFilter } from './selectors.js';
import type { Store, WriteResult } from './store.js';
import { serveWatch } from './watch.js';

/** One API call, as an audit log would record it (`verb` is the RBAC verb). */
export interface RequestRecord {
  method: string;
  path: string;
  verb: string;
  status: number;
}

export interface HttpContext {
  store: Store;
  registry: Registry;
  token: string;
  requests: RequestRecord[];
  bookmarkIntervalMs: number;
  address: string;
}

const PUBLIC = ['/version', '/healthz', '/livez', '/readyz'];

/** `/api/v1/namespaces/x/pods/y/status` and the like; undefined when nothing is served there. */
function route(registry: Registry, path: string): (Target & { sub?: 'status' }) | undefined {
  const segs = path.split('/').filter(Boolean);
  const [root, a, b] = segs;
  let group = '';
  let version: string | undefined;
  let rest: string[];
  if (root === 'api' && a === 'v1') [version, rest] = ['v1', segs.slice(2)];
  else if (root === 'apis' && a && b) [group, version, rest] = [a, b, segs.slice(3)];
  else return undefined;
  let ns: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3 && registry.find(group, version, rest[2] ?? '')?.namespaced) {
    ns = rest[1];
    rest = rest.slice(2);
  }
  const [plural = '', name, sub, ...extra] = rest;
  const rt = registry.find(group, version, plural);
  if (
    !rt ||
    extra.length ||
    (!rt.namespaced && ns !== undefined) ||
    (rt.namespaced && name !== undefined && ns === undefined)
  ) {
    return undefined;
  }
  if (sub !== undefined && (sub !== 'status' || !rt.statusVersions.has(version))) return undefined;
  return { rt, version, ns, name, sub: sub as 'status' | undefined };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function parseBody(text: string, contentType: string): unknown {
  try {
    return contentType.includes('yaml') ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    throw badRequest(`couldn't get version/kind; json parse error: ${(e as Error).message}`);
  }
}

function verbOf(method: string, t: Target | undefined, watch: boolean): string {
  if (!t) return method.toLowerCase();
  const collection = t.name === undefined;
  const verbs: Record<string, string> = {
    GET: collection ? (watch ? 'watch' : 'list') : 'get',
    POST: 'create',
    PUT: 'update',
    PATCH: 'patch',
    DELETE: collection ? 'deletecollection' : 'delete',
  };
  return verbs[method] ?? method.toLowerCase();
}

function integer(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  if (!/^\d+$/.test(v)) throw badRequest(`invalid ${name}: "${v}" is not a non-negative integer`);
  return Number(v);
}

export async function handle(ctx: HttpContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const method = req.method ?? 'GET';
  const q = url.searchParams;
  const record: RequestRecord = { method, path: url.pathname, verb: method.toLowerCase(), status: 0 };
  ctx.requests.push(record);
  const reply = (status: number, body: unknown, warnings: string[] = []): void => {
    record.status = status;
    const headers: Record<string, string | string[]> = { 'Content-Type': 'application/json' };
    if (warnings.length) headers.Warning = warnings.map((w) => `299 - ${JSON.stringify(w)}`);
    res.writeHead(status, headers);
    res.end(JSON.stringify(body));
  };
  try {
    if (!PUBLIC.includes(url.pathname) && req.headers.authorization !== `Bearer ${ctx.token}`) {
      throw new StatusError(401, 'Unauthorized', 'Unauthorized');
    }
    const body = await readBody(req);
    if (url.pathname === '/version') return reply(200, VERSION_INFO);
    if (PUBLIC.includes(url.pathname)) {
      record.status = 200;
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      return void res.end('ok');
    }
    const doc = discovery(ctx.registry, url.pathname.replace(/\/$/, ''), ctx.address);
    if (doc && method === 'GET') return reply(200, doc);
    const t = route(ctx.registry, url.pathname);
    const watch = q.get('watch') === 'true' || q.get('watch') === '1';
    record.verb = verbOf(method, t, watch);
    if (!t) throw pathNotFound();
    if (q.has('dryRun')) throw badRequest('kube-fake does not implement dryRun');
    if (q.has('sendInitialEvents')) throw badRequest('kube-fake does not implement sendInitialEvents (watch-list)');
    const { store } = ctx;
    const opts = { strict: q.get('fieldValidation') === 'Strict', subresource: t.sub };
    const contentType = (req.headers['content-type'] ?? 'application/json').split(';')[0]?.trim() ?? '';
    const labelSelector = q.get('labelSelector') ?? undefined;
    const fieldSelector = q.get('fieldSelector') ?? undefined;
    const ignore = q.get('fieldValidation') === 'Ignore';
    const written = (status: number, r: WriteResult): void => reply(status, r.object, ignore ? [] : r.warnings);
    if (t.name === undefined) {
      if (method === 'GET' && watch) {
        const rv = q.get('resourceVersion');
        record.status = 200;
        return serveWatch(store, res, {
          ...t,
          from: rv === null || rv === '' || rv === '0' ? undefined : integer(q, 'resourceVersion'),
          filter: objectFilter(t.rt, labelSelector, fieldSelector),
          bookmarks: q.get('allowWatchBookmarks') === 'true',
          bookmarkIntervalMs: ctx.bookmarkIntervalMs,
          timeoutSeconds: integer(q, 'timeoutSeconds'),
        });
      }
      const page = {
        labelSelector,
        fieldSelector,
        limit: integer(q, 'limit'),
        continue: q.get('continue') ?? undefined,
      };
      if (method === 'GET') return reply(200, store.list(t, page));
      if (method === 'DELETE') return reply(200, store.deleteCollection(t, page));
      // POST needs a namespace in the path for namespaced resources.
      if (method === 'POST' && (t.ns !== undefined || !t.rt.namespaced)) {
        return written(201, store.create(t, parseBody(body, contentType), opts));
      }
    } else {
      if (method === 'GET') return reply(200, store.get(t));
      if (method === 'PUT') return written(200, store.update(t, parseBody(body, contentType), opts));
      if (method === 'PATCH') {
        const patch = contentType.endsWith('+json') ? parseBody(body, 'json') : undefined; // others get a 415
        return written(200, store.patch(t, contentType, patch, opts));
      }
      if (method === 'DELETE' && !t.sub) {
        const options = body.trim() ? parseBody(body, contentType) : {};
        const pre = isObj(options) && isObj(options.preconditions) ? options.preconditions : {};
        const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
        return reply(200, store.delete(t, { uid: str(pre.uid), resourceVersion: str(pre.resourceVersion) }));
      }
    }
    throw new StatusError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
  } catch (e) {
    const err =
      e instanceof StatusError ? e : new StatusError(500, 'InternalError', `kube-fake: ${(e as Error).message}`);
    if (res.headersSent) return void res.end();
    reply(err.code, err.toStatus());
  }
}
