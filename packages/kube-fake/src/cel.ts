// The small CEL subset CRD x-kubernetes-validations rules may use here (README.md lists it).
// Rules are parsed and type-checked against the schema when the CRD is created, so a rule this
// subset cannot run is refused then, never skipped at runtime.
import { deepEqual, isObj, typeName } from './json.js';
import type { Schema } from './schema.js';

/** The rule cannot be compiled: outside the subset, or wrong against the schema. */
export class CelCompileError extends Error {
  override name = 'CelCompileError';
}
/** The rule failed while evaluating (`no such key: x`). */
export class CelEvalError extends Error {
  override name = 'CelEvalError';
}

type Node =
  | { k: 'lit'; v: unknown }
  | { k: 'id'; name: string }
  | { k: 'sel'; obj: Node; field: string }
  | { k: 'has'; obj: Node; field: string }
  | { k: 'size'; x: Node }
  | { k: 'all' | 'exists'; target: Node; v: string; body: Node }
  | { k: 'list'; items: Node[] }
  | { k: 'not'; x: Node }
  | { k: 'bin'; op: string; l: Node; r: Node };

const SUBSET =
  'self.f, has(), !, &&, ||, ==, !=, <, <=, >, >=, in [..], size(), .all(), .exists(), int/string/bool/null literals';
const unsupported = (what: string): CelCompileError =>
  new CelCompileError(`unsupported CEL construct ${what} (kube-fake supports only: ${SUBSET})`);

interface Tok {
  t: 'int' | 'str' | 'id' | 'op' | 'end';
  v: string;
}

const TOKEN =
  /\s*(?:(\d[\w.]*)|([A-Za-z_]\w*)|("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')|(\|\||&&|==|!=|<=|>=|[<>!()[\],.-])|(\S))/y;

function tokenize(src: string): Tok[] {
  const toks: Tok[] = [];
  let pos = 0;
  for (;;) {
    TOKEN.lastIndex = pos;
    const m = TOKEN.exec(src);
    if (!m) break; // only whitespace is left
    pos = TOKEN.lastIndex;
    const [, int, id, str, op, other] = m;
    if (int !== undefined) {
      if (!/^\d+$/.test(int)) throw unsupported(`'${int}' (only decimal int literals)`);
      toks.push({ t: 'int', v: int });
    } else if (id !== undefined) toks.push({ t: 'id', v: id });
    else if (str !== undefined) toks.push({ t: 'str', v: unquote(str) });
    else if (op !== undefined) toks.push({ t: 'op', v: op });
    else if (other !== undefined) throw unsupported(`'${other}'`);
  }
  toks.push({ t: 'end', v: '' });
  return toks;
}

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"' };
function unquote(s: string): string {
  return s.slice(1, -1).replace(/\\(.)/g, (_, c: string) => {
    const e = ESCAPES[c];
    if (e === undefined) throw unsupported(`string escape '\\${c}'`);
    return e;
  });
}

class Parser {
  private pos = 0;
  constructor(private readonly toks: Tok[]) {}

  private peek(): Tok {
    return this.toks[this.pos] ?? { t: 'end', v: '' };
  }
  private next(): Tok {
    const tok = this.peek();
    this.pos++;
    return tok;
  }
  private isOp(v: string): boolean {
    const tok = this.peek();
    return tok.t === 'op' && tok.v === v;
  }
  private expect(v: string): void {
    const tok = this.next();
    if (tok.t !== 'op' || tok.v !== v)
      throw new CelCompileError(`syntax error: expected '${v}', found '${tok.v || 'end'}'`);
  }

  parse(): Node {
    const node = this.or();
    const rest = this.peek();
    if (rest.t !== 'end') throw new CelCompileError(`syntax error: unexpected '${rest.v}'`);
    return node;
  }
  private or(): Node {
    let l = this.and();
    while (this.isOp('||')) l = { k: 'bin', op: this.next().v, l, r: this.and() };
    return l;
  }
  private and(): Node {
    let l = this.rel();
    while (this.isOp('&&')) l = { k: 'bin', op: this.next().v, l, r: this.rel() };
    return l;
  }
  private rel(): Node {
    let l = this.unary();
    for (;;) {
      const tok = this.peek();
      const rel = tok.t === 'op' && ['==', '!=', '<', '<=', '>', '>='].includes(tok.v);
      if (!rel && !(tok.t === 'id' && tok.v === 'in')) return l;
      this.next();
      l = { k: 'bin', op: tok.v, l, r: this.unary() };
    }
  }
  private unary(): Node {
    const op = this.isOp('!') || this.isOp('-') ? this.next().v : undefined;
    if (op === '!') return { k: 'not', x: this.unary() };
    if (op === '-') {
      const tok = this.next();
      if (tok.t !== 'int') throw unsupported("'-' (negation of non-literals)");
      return { k: 'lit', v: -Number(tok.v) };
    }
    return this.member();
  }
  private member(): Node {
    let node = this.primary();
    for (;;) {
      if (this.isOp('[')) throw unsupported("'[' (indexing)");
      if (!this.isOp('.')) return node;
      this.next();
      const field = this.next();
      if (field.t !== 'id') throw new CelCompileError(`syntax error: expected a field name after '.'`);
      if (!this.isOp('(')) {
        node = { k: 'sel', obj: node, field: field.v };
        continue;
      }
      const args = this.args();
      if (field.v === 'size' && args.length === 0) node = { k: 'size', x: node };
      else if ((field.v === 'all' || field.v === 'exists') && args.length === 2 && args[0]?.k === 'id' && args[1]) {
        node = { k: field.v, target: node, v: args[0].name, body: args[1] };
      } else throw unsupported(`function '${field.v}'`);
    }
  }
  private args(): Node[] {
    this.expect('(');
    const args: Node[] = [];
    while (!this.isOp(')')) {
      if (args.length) this.expect(',');
      args.push(this.or());
    }
    this.next();
    return args;
  }
  private primary(): Node {
    const tok = this.next();
    if (tok.t === 'int') return { k: 'lit', v: Number(tok.v) };
    if (tok.t === 'str') return { k: 'lit', v: tok.v };
    if (tok.t === 'op' && tok.v === '(') {
      const inner = this.or();
      this.expect(')');
      return inner;
    }
    if (tok.t === 'op' && tok.v === '[') {
      const items: Node[] = [];
      while (!this.isOp(']')) {
        if (items.length) this.expect(',');
        items.push(this.or());
      }
      this.next();
      return { k: 'list', items };
    }
    if (tok.t !== 'id') throw new CelCompileError(`syntax error: unexpected '${tok.v || 'end'}'`);
    const literals: Record<string, unknown> = { true: true, false: false, null: null };
    if (tok.v in literals) return { k: 'lit', v: literals[tok.v] };
    if (!this.isOp('(')) return { k: 'id', name: tok.v };
    const args = this.args();
    const [arg] = args;
    if (tok.v === 'size' && args.length === 1 && arg) return { k: 'size', x: arg };
    if (tok.v === 'has' && args.length === 1 && arg) {
      if (arg.k !== 'sel') throw new CelCompileError('invalid argument to has() macro');
      return { k: 'has', obj: arg.obj, field: arg.field };
    }
    throw unsupported(`function '${tok.v}'`);
  }
}

// Static types, enough to refuse what the API server's type checker refuses in this subset.
interface Type {
  t: 'int' | 'double' | 'string' | 'bool' | 'null' | 'list' | 'map' | 'dyn';
  s?: Schema;
}
const DYN: Type = { t: 'dyn' };

function fromSchema(s: Schema | undefined): Type {
  if (!s || s['x-kubernetes-int-or-string'] || !s.type) return DYN;
  const t = (
    { object: 'map', array: 'list', integer: 'int', number: 'double', string: 'string', boolean: 'bool' } as const
  )[s.type as 'object'];
  return t ? { t, s } : DYN;
}

const own = <T>(rec: Record<string, T> | undefined, key: string): T | undefined =>
  rec && Object.hasOwn(rec, key) ? rec[key] : undefined;

function literalType(v: unknown): Type {
  if (v === null) return { t: 'null' };
  if (typeof v === 'number') return { t: 'int' };
  return { t: typeof v === 'string' ? 'string' : 'bool' };
}

const fits = (a: Type, ...ts: Type['t'][]): boolean => a.t === 'dyn' || ts.includes(a.t);
const numeric = (t: Type): boolean => t.t === 'int' || t.t === 'double';

/** Type-checks `n`; `used` collects the variables read (to spot transition rules). */
function check(n: Node, scope: Record<string, Type>, used: Set<string>): Type {
  const sub = (x: Node, inner = scope): Type => check(x, inner, used);
  switch (n.k) {
    case 'lit':
      return literalType(n.v);
    case 'id': {
      const t = own(scope, n.name);
      if (!t) throw new CelCompileError(`undeclared reference to '${n.name}'`);
      used.add(n.name);
      return t;
    }
    case 'sel':
    case 'has': {
      const o = sub(n.obj);
      if (!fits(o, 'map')) throw new CelCompileError(`type '${o.t}' does not support field selection`);
      let t = DYN;
      const s = o.s;
      const prop = own(s?.properties, n.field);
      if (prop) t = fromSchema(prop);
      else if (s && typeof s.additionalProperties === 'object') t = fromSchema(s.additionalProperties);
      else if (s?.properties && !s['x-kubernetes-preserve-unknown-fields']) {
        throw new CelCompileError(`undefined field '${n.field}'`);
      }
      return n.k === 'has' ? { t: 'bool' } : t;
    }
    case 'size':
      if (!fits(sub(n.x), 'string', 'list', 'map')) throw new CelCompileError("found no matching overload for 'size'");
      return { t: 'int' };
    case 'all':
    case 'exists': {
      const target = sub(n.target);
      if (!fits(target, 'list', 'map'))
        throw new CelCompileError(`expression of type '${target.t}' cannot be range of a comprehension`);
      const item =
        target.t === 'list' ? fromSchema(target.s?.items) : target.t === 'map' ? { t: 'string' as const } : DYN;
      if (!fits(sub(n.body, { ...scope, [n.v]: item }), 'bool'))
        throw new CelCompileError(`.${n.k}() predicate must be a bool`);
      return { t: 'bool' };
    }
    case 'list':
      n.items.forEach((item) => sub(item));
      return { t: 'list' };
    case 'not':
      if (!fits(sub(n.x), 'bool')) throw new CelCompileError("found no matching overload for '!_'");
      return { t: 'bool' };
    case 'bin': {
      const l = sub(n.l);
      const r = sub(n.r);
      const ok =
        n.op === '&&' || n.op === '||'
          ? fits(l, 'bool') && fits(r, 'bool')
          : n.op === 'in'
            ? fits(r, 'list', 'map')
            : l.t === 'dyn' ||
              r.t === 'dyn' ||
              (numeric(l) && numeric(r)) ||
              l.t === r.t ||
              ((n.op === '==' || n.op === '!=') && (l.t === 'null' || r.t === 'null'));
      const ordered = !['<', '<=', '>', '>='].includes(n.op) || fits(l, 'int', 'double', 'string');
      if (!ok || !ordered)
        throw new CelCompileError(`found no matching overload for '${n.op}' applied to '(${l.t}, ${r.t})'`);
      return { t: 'bool' };
    }
  }
}

function evaluate(n: Node, env: Record<string, unknown>): unknown {
  switch (n.k) {
    case 'lit':
      return n.v;
    case 'id':
      return env[n.name];
    case 'sel':
    case 'has': {
      const o = evaluate(n.obj, env);
      if (!isObj(o)) throw new CelEvalError(`no such key: ${n.field}`);
      if (n.k === 'has') return Object.hasOwn(o, n.field);
      if (!Object.hasOwn(o, n.field) || o[n.field] === undefined) throw new CelEvalError(`no such key: ${n.field}`);
      return o[n.field];
    }
    case 'size': {
      const x = evaluate(n.x, env);
      if (typeof x === 'string') return [...x].length;
      if (Array.isArray(x)) return x.length;
      if (isObj(x)) return Object.keys(x).length;
      throw new CelEvalError(`no such overload: size(${typeName(x)})`);
    }
    case 'all':
    case 'exists': {
      const target = evaluate(n.target, env);
      const items = Array.isArray(target) ? target : isObj(target) ? Object.keys(target) : undefined;
      if (!items) throw new CelEvalError(`no such overload: ${typeName(target)}.${n.k}()`);
      // Like CEL: a decisive result wins over an error on another element.
      let error: unknown;
      for (const item of items) {
        try {
          if (bool(evaluate(n.body, { ...env, [n.v]: item })) === (n.k === 'exists')) return n.k === 'exists';
        } catch (e) {
          error ??= e;
        }
      }
      if (error) throw error;
      return n.k === 'all';
    }
    case 'list':
      return n.items.map((item) => evaluate(item, env));
    case 'not':
      return !bool(evaluate(n.x, env));
    case 'bin':
      return binary(n.op, n.l, n.r, env);
  }
}

function bool(v: unknown): boolean {
  if (typeof v !== 'boolean') throw new CelEvalError(`no such overload: expected bool, got ${typeName(v)}`);
  return v;
}

function binary(op: string, ln: Node, rn: Node, env: Record<string, unknown>): boolean {
  if (op === '&&' || op === '||') {
    // Commutative with errors, as in CEL: `false && error` and `error && false` are both false.
    const decisive = op === '||';
    let error: unknown;
    for (const side of [ln, rn]) {
      try {
        if (bool(evaluate(side, env)) === decisive) return decisive;
      } catch (e) {
        error ??= e;
      }
    }
    if (error) throw error;
    return !decisive;
  }
  const l = evaluate(ln, env);
  const r = evaluate(rn, env);
  if (op === '==') return deepEqual(l, r);
  if (op === '!=') return !deepEqual(l, r);
  if (op === 'in') {
    if (Array.isArray(r)) return r.some((x) => deepEqual(x, l));
    if (isObj(r)) return typeof l === 'string' && Object.hasOwn(r, l);
    throw new CelEvalError(`no such overload: ${typeName(l)} in ${typeName(r)}`);
  }
  const comparable =
    (typeof l === 'number' && typeof r === 'number') || (typeof l === 'string' && typeof r === 'string');
  if (!comparable) throw new CelEvalError(`no such overload: ${typeName(l)} ${op} ${typeName(r)}`);
  const [a, b] = [l as number | string, r as number | string];
  return op === '<' ? a < b : op === '<=' ? a <= b : op === '>' ? a > b : a >= b;
}

export interface Program {
  /** Whether the rule reads `oldSelf`: it then runs only on updates (a transition rule). */
  transition: boolean;
  /** true when the rule holds; throws CelEvalError when it cannot be evaluated. */
  run(self: unknown, oldSelf: unknown): boolean;
}

/** Parses and checks `rule` for a node with schema `schema`; throws CelCompileError. */
export function compile(rule: string, schema: Schema): Program {
  const ast = new Parser(tokenize(rule)).parse();
  const self = fromSchema(schema);
  const used = new Set<string>();
  const result = check(ast, { self, oldSelf: self }, used);
  if (!fits(result, 'bool')) throw new CelCompileError(`rule must evaluate to a bool, not ${result.t}`);
  return {
    transition: used.has('oldSelf'),
    run: (selfValue, oldValue) => bool(evaluate(ast, { self: selfValue, oldSelf: oldValue })),
  };
}
