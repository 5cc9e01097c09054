// Merge patch (RFC 7386) and JSON patch (RFC 6902) over plain JSON values.
import { badRequest, StatusError } from './errors.js';
import { clone, deepEqual, isObj } from './json.js';

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObj(patch)) return clone(patch);
  const out = isObj(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

const failed = (message: string): StatusError => new StatusError(422, 'Invalid', message);

function pointer(path: unknown): string[] {
  if (typeof path !== 'string' || (path !== '' && !path.startsWith('/')))
    throw badRequest(`invalid JSON pointer: ${String(path)}`);
  return path === ''
    ? []
    : path
        .slice(1)
        .split('/')
        .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function index(list: unknown[], token: string, forInsert: boolean): number {
  const i = token === '-' && forInsert ? list.length : /^(0|[1-9]\d*)$/.test(token) ? Number(token) : -1;
  if (i < 0 || i > list.length - (forInsert ? 0 : 1)) throw failed(`array index ${token} out of bounds`);
  return i;
}

/** The container holding the last token of `tokens`. */
function parent(doc: unknown, tokens: string[], op: string): unknown {
  let node = doc;
  for (const token of tokens.slice(0, -1)) {
    node = Array.isArray(node) ? node[index(node, token, false)] : isObj(node) ? node[token] : undefined;
    if (node === undefined) throw failed(`${op} operation does not apply: doc is missing path: /${tokens.join('/')}`);
  }
  return node;
}

function get(doc: unknown, tokens: string[], op: string): unknown {
  if (!tokens.length) return doc;
  const p = parent(doc, tokens, op);
  const last = tokens[tokens.length - 1] ?? '';
  const v = Array.isArray(p) ? p[index(p, last, false)] : isObj(p) && Object.hasOwn(p, last) ? p[last] : undefined;
  if (v === undefined) throw failed(`${op} operation does not apply: doc is missing key: /${tokens.join('/')}`);
  return v;
}

function put(doc: unknown, tokens: string[], value: unknown, mode: 'add' | 'replace', op: string): unknown {
  if (!tokens.length) return value;
  const p = parent(doc, tokens, op);
  const last = tokens[tokens.length - 1] ?? '';
  if (Array.isArray(p)) p.splice(index(p, last, mode === 'add'), mode === 'add' ? 0 : 1, value);
  else if (isObj(p)) p[last] = value;
  else throw failed(`${op} operation does not apply: doc is missing path: /${tokens.join('/')}`);
  return doc;
}

function remove(doc: unknown, tokens: string[], op: string): unknown {
  get(doc, tokens, op);
  const p = parent(doc, tokens, op);
  const last = tokens[tokens.length - 1] ?? '';
  if (Array.isArray(p)) p.splice(index(p, last, false), 1);
  else if (isObj(p)) delete p[last];
  return doc;
}

export function jsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw badRequest('json patch must be a list of operations');
  let doc = clone(target);
  for (const o of ops) {
    if (!isObj(o) || typeof o.op !== 'string') throw badRequest('json patch operation must have an "op"');
    const path = pointer(o.path);
    switch (o.op) {
      case 'add':
        doc = put(doc, path, clone(o.value), 'add', o.op);
        break;
      case 'replace':
        get(doc, path, o.op);
        doc = put(doc, path, clone(o.value), 'replace', o.op);
        break;
      case 'remove':
        doc = remove(doc, path, o.op);
        break;
      case 'move':
      case 'copy': {
        const from = pointer(o.from);
        const value = clone(get(doc, from, o.op));
        if (o.op === 'move') doc = remove(doc, from, o.op);
        doc = put(doc, path, value, 'add', o.op);
        break;
      }
      case 'test':
        if (!deepEqual(get(doc, path, o.op), o.value)) throw failed(`testing value /${path.join('/')} failed`);
        break;
      default:
        throw badRequest(`unexpected json patch operation "${o.op}"`);
    }
  }
  return doc;
}
