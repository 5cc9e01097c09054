// The retis meta filter language: `sk_buff.FIELD[.FIELD...][:MASK[:TYPE]] [OP VALUE]`, combined
// with && / || (or `and` / `or`, same precedence, left to right) and parentheses.

export type MetaOp = '==' | '!=' | '<' | '<=' | '>' | '>=';

export interface MetaCompare {
  kind: 'cmp';
  /** Field path below sk_buff, e.g. ['dev', 'name']. */
  path: string[];
  mask?: bigint;
  /** After masking, read the value as a pointer to this struct and follow `castPath` in it. */
  cast?: { struct: string; path: string[] };
  op: MetaOp;
  value: bigint | string;
  text: string;
}

export type MetaExpr = MetaCompare | { kind: 'and' | 'or'; left: MetaExpr; right: MetaExpr };

export class MetaFilterSyntaxError extends Error {
  constructor(
    readonly expression: string,
    at: number,
    reason: string,
  ) {
    super(
      `invalid meta filter '${expression}' at character ${at + 1}: ${reason} (expected sk_buff.FIELD[.FIELD...][:MASK[:TYPE]] [==|!=|<|<=|>|>= VALUE], joined by && and ||)`,
    );
    this.name = 'MetaFilterSyntaxError';
  }
}

type Token = { t: 'id' | 'num' | 'str' | 'op' | 'punct'; v: string; at: number };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  const re =
    /\s*(?:(&&|\|\||==|!=|<=|>=|<|>)|([().:])|('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|(~?-?(?:0x[0-9a-fA-F]+|0b[01]+|\d+))|([A-Za-z_][A-Za-z0-9_]*))/y;
  let pos = 0;
  while (pos < src.length) {
    if (/^\s*$/.test(src.slice(pos))) break;
    re.lastIndex = pos;
    const m = re.exec(src);
    if (!m) throw new MetaFilterSyntaxError(src, pos, `unexpected '${src.slice(pos).trim()[0]}'`);
    const at = m.index + m[0].length - (m[1] ?? m[2] ?? m[3] ?? m[4] ?? m[5] ?? '').length;
    if (m[1]) out.push({ t: 'op', v: m[1], at });
    else if (m[2]) out.push({ t: 'punct', v: m[2], at });
    else if (m[3]) out.push({ t: 'str', v: m[3].slice(1, -1).replace(/\\(.)/g, '$1'), at });
    else if (m[4]) out.push({ t: 'num', v: m[4], at });
    else if (m[5]) {
      const v = m[5];
      out.push(v === 'and' ? { t: 'op', v: '&&', at } : v === 'or' ? { t: 'op', v: '||', at } : { t: 'id', v, at });
    }
    pos = re.lastIndex;
  }
  return out;
}

function number(expr: string, tok: Token): bigint {
  let s = tok.v;
  const not = s.startsWith('~');
  if (not) s = s.slice(1);
  const neg = s.startsWith('-');
  if (neg) s = s.slice(1);
  let v = BigInt(s.startsWith('0b') ? `0b${s.slice(2)}` : s);
  if (neg) v = -v;
  if (not) v = BigInt.asUintN(64, ~v);
  if (v > 0xffffffffffffffffn || v < -(1n << 63n))
    throw new MetaFilterSyntaxError(expr, tok.at, `${tok.v} does not fit 64 bits`);
  return v;
}

export function parseMetaFilter(src: string): MetaExpr {
  const toks = tokenize(src);
  let i = 0;
  const peek = (): Token | undefined => toks[i];
  const fail = (reason: string): never => {
    throw new MetaFilterSyntaxError(src, peek()?.at ?? src.length, reason);
  };
  const expect = (v: string): void => {
    if (peek()?.v !== v) fail(`expected '${v}'`);
    i++;
  };
  const ident = (): string => {
    const t = peek();
    if (t?.t !== 'id') return fail('expected a field name');
    i++;
    return t.v;
  };
  const dotted = (): string[] => {
    const parts = [ident()];
    while (peek()?.v === '.') {
      i++;
      parts.push(ident());
    }
    return parts;
  };
  const compare = (): MetaCompare => {
    const start = peek()?.at ?? 0;
    const path = dotted();
    if (path[0] !== 'sk_buff') fail(`fields start at sk_buff (got '${path[0]}')`);
    if (path.length < 2) fail('name a field of sk_buff, e.g. sk_buff.mark');
    const cmp: MetaCompare = { kind: 'cmp', path: path.slice(1), op: '!=', value: 0n, text: '' };
    if (peek()?.v === ':') {
      i++;
      const t = peek();
      if (t?.t !== 'num') fail('expected a mask after ":"');
      cmp.mask = BigInt.asUintN(64, number(src, t as Token));
      i++;
      if (peek()?.v === ':') {
        i++;
        const [struct, ...rest] = dotted();
        if (!struct || rest.length === 0) fail('a cast is :MASK:STRUCT.FIELD, e.g. sk_buff._nfct:~0x7:nf_conn.mark');
        cmp.cast = { struct: struct as string, path: rest };
      }
    }
    const op = peek();
    if (op?.t === 'op' && op.v !== '&&' && op.v !== '||') {
      i++;
      cmp.op = op.v as MetaOp;
      const v = peek();
      if (v?.t === 'num') cmp.value = number(src, v);
      else if (v?.t === 'str') {
        if (cmp.op !== '==' && cmp.op !== '!=') fail('strings compare with == or != only');
        if (v.v.length > 32) fail('strings are at most 32 bytes');
        cmp.value = v.v;
      } else fail('expected a number or a quoted string');
      i++;
    }
    cmp.text = src.slice(start, peek()?.at ?? src.length).trim();
    return cmp;
  };
  const term = (): MetaExpr => {
    if (peek()?.v === '(') {
      i++;
      const e = expr();
      expect(')');
      return e;
    }
    return compare();
  };
  const expr = (): MetaExpr => {
    let left = term();
    while (peek()?.v === '&&' || peek()?.v === '||') {
      const kind = peek()?.v === '&&' ? 'and' : 'or';
      i++;
      left = { kind, left, right: term() };
    }
    return left;
  };
  if (toks.length === 0) fail('empty expression');
  const e = expr();
  if (i < toks.length) fail(`unexpected '${peek()?.v}'`);
  return e;
}
