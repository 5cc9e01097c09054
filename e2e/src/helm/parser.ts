// Go text/template's parser: tokens into a tree, plus the templates `define` and `block` name.
import type { Arg, Command, Node, Pipe } from './ast.js';
import { TemplateSyntaxError } from './errors.js';
import { lex, type Token } from './lexer.js';

export interface ParsedTemplate {
  /** The template's own body. */
  root: Node[];
  /** Templates it defines (define and block), by name. */
  defines: Map<string, Node[]>;
}

type Context = 'if' | 'with' | 'range' | 'action' | 'template' | 'block';

class Parser {
  private i = 0;
  private rangeDepth = 0;
  readonly defines = new Map<string, Node[]>();

  constructor(
    private readonly name: string,
    private readonly tokens: Token[],
  ) {}

  private fail(detail: string, tok: Token = this.peek()): never {
    throw new TemplateSyntaxError({ template: this.name, line: tok.line }, detail);
  }

  private peek(): Token {
    return this.tokens[this.i] ?? this.tokens[this.tokens.length - 1]!;
  }

  private next(): Token {
    const t = this.peek();
    if (this.i < this.tokens.length - 1) this.i++;
    return t;
  }

  /** The next token that is not a space. */
  private nextNonSpace(): Token {
    let t = this.next();
    while (t.kind === 'space') t = this.next();
    return t;
  }

  private peekNonSpace(): Token {
    const save = this.i;
    const t = this.nextNonSpace();
    this.i = save;
    return t;
  }

  private expect(kind: Token['kind'], context: string): Token {
    const t = this.nextNonSpace();
    if (t.kind !== kind) this.fail(`unexpected ${describe(t)} in ${context}`, t);
    return t;
  }

  /** The whole template: nodes up to the end, defines collected on the way. */
  parseTop(): Node[] {
    const { nodes, end } = this.list(true);
    if (end) this.fail(`unexpected {{${end.value}}}`, end);
    return nodes;
  }

  /**
   * Nodes until EOF or an {{end}}/{{else}}, which is returned (consumed up to its keyword; for
   * else, what follows is left to the caller).
   */
  private list(top = false): { nodes: Node[]; end?: Token } {
    const nodes: Node[] = [];
    for (;;) {
      const t = this.next();
      if (t.kind === 'eof') {
        if (!top) this.fail('unexpected EOF', t);
        return { nodes };
      }
      if (t.kind === 'text') {
        nodes.push({ type: 'text', text: t.value });
        continue;
      }
      if (t.kind !== 'left') this.fail(`unexpected ${describe(t)}`, t);
      const k = this.peekNonSpace();
      if (k.kind === 'keyword') {
        this.nextNonSpace();
        switch (k.value) {
          case 'end':
          case 'else':
            if (top) this.fail(`unexpected {{${k.value}}}`, k);
            return { nodes, end: k };
          case 'if':
          case 'with':
          case 'range':
            nodes.push(this.control(k.value, k.line));
            continue;
          case 'template':
            nodes.push(this.templateCall(k.line));
            continue;
          case 'define':
            if (!top) this.fail('{{define}} is only allowed at the top level', k);
            this.define(k.line);
            continue;
          case 'block':
            nodes.push(this.block(k.line));
            continue;
          case 'break':
          case 'continue':
            if (this.rangeDepth === 0) this.fail(`{{${k.value}}} outside {{range}}`, k);
            this.expect('right', k.value);
            nodes.push({ type: k.value, line: k.line });
            continue;
        }
      }
      nodes.push({ type: 'action', line: t.line, pipe: this.pipeline('action', 'right') });
    }
  }

  private control(kind: 'if' | 'with' | 'range', line: number): Node {
    const pipe = this.pipeline(kind, 'right');
    if (kind === 'range') this.rangeDepth++;
    const body = this.list();
    if (kind === 'range') this.rangeDepth--;
    const node: Node = { type: kind, line, pipe, list: body.nodes };
    if (body.end?.value === 'else') {
      const after = this.peekNonSpace();
      // {{else if ...}} and {{else with ...}}: a nested control whose {{end}} ends both.
      if (after.kind === 'keyword' && after.value === kind && kind !== 'range') {
        this.nextNonSpace();
        node.elseList = [this.control(kind, after.line)];
        return node;
      }
      this.expect('right', 'else');
      const rest = this.list();
      if (rest.end?.value !== 'end') this.fail(`expected {{end}} after {{else}} of {{${kind}}}`);
      node.elseList = rest.nodes;
    }
    this.expect('right', 'end');
    return node;
  }

  private templateName(context: string): string {
    const t = this.nextNonSpace();
    if (t.kind !== 'string') this.fail(`unexpected ${describe(t)} in ${context}: expected a quoted name`, t);
    return t.value;
  }

  private templateCall(line: number): Node {
    const name = this.templateName('template clause');
    if (this.peekNonSpace().kind === 'right') {
      this.nextNonSpace();
      return { type: 'template', line, name };
    }
    return { type: 'template', line, name, pipe: this.pipeline('template', 'right') };
  }

  private define(line: number): void {
    const name = this.templateName('define clause');
    this.expect('right', 'define clause');
    const body = this.list();
    if (body.end?.value !== 'end') this.fail('unexpected {{else}} in define', body.end);
    this.expect('right', 'end');
    void line;
    this.defines.set(name, body.nodes);
  }

  /** {{block "name" pipe}}default{{end}}: define the default, and call it. */
  private block(line: number): Node {
    const name = this.templateName('block clause');
    const pipe = this.pipeline('block', 'right');
    const body = this.list();
    if (body.end?.value !== 'end') this.fail('unexpected {{else}} in block', body.end);
    this.expect('right', 'end');
    this.defines.set(name, body.nodes);
    return { type: 'template', line, name, pipe };
  }

  /** [decl :=|=] command | command ... up to `}}` (or `)` inside parentheses). */
  private pipeline(context: Context, endKind: 'right' | 'rparen'): Pipe {
    const line = this.peek().line;
    const pipe: Pipe = { line, isAssign: false, decl: [], cmds: [] };
    const save = this.i;
    const v = this.nextNonSpace();
    if (v.kind === 'variable') {
      const op = this.nextNonSpace();
      if (op.kind === 'declare' || op.kind === 'assign') {
        pipe.decl.push(v.value);
        pipe.isAssign = op.kind === 'assign';
      } else if (op.kind === 'comma' && context === 'range') {
        const v2 = this.expect('variable', 'range declaration');
        const op2 = this.nextNonSpace();
        if (op2.kind !== 'declare' && op2.kind !== 'assign') this.fail('expected := or = in range declaration', op2);
        pipe.decl.push(v.value, v2.value);
        pipe.isAssign = op2.kind === 'assign';
      } else {
        this.i = save;
      }
    } else {
      this.i = save;
    }
    for (;;) {
      const t = this.peekNonSpace();
      if (t.kind === endKind) {
        this.nextNonSpace();
        if (pipe.cmds.length === 0) this.fail(`missing value for ${context}`, t);
        return pipe;
      }
      pipe.cmds.push(this.command(endKind));
      const sep = this.peekNonSpace();
      if (sep.kind === 'pipe') this.nextNonSpace();
      else if (sep.kind !== endKind) this.fail(`unexpected ${describe(sep)} in ${context}`, sep);
    }
  }

  private command(endKind: 'right' | 'rparen'): Command {
    const args: Arg[] = [];
    for (;;) {
      const t = this.peekNonSpace();
      if (t.kind === 'pipe' || t.kind === endKind) break;
      if (args.length > 0 && this.peek().kind !== 'space') this.fail(`missing space before ${describe(t)}`, t);
      args.push(this.operand());
    }
    if (args.length === 0) this.fail(`empty command`);
    return { args };
  }

  /** A term and the fields that follow it directly (`$x.a.b`, `(pipe).a`). */
  private operand(): Arg {
    const term = this.term();
    const idents: string[] = [];
    while (this.peek().kind === 'field') idents.push(this.next().value);
    if (idents.length === 0) return term;
    switch (term.type) {
      case 'field':
        return { type: 'field', idents: [...term.idents, ...idents] };
      case 'variable':
        return { type: 'variable', name: term.name, idents: [...term.idents, ...idents] };
      case 'string':
      case 'number':
      case 'bool':
      case 'nil':
      case 'dot':
        return this.fail(`unexpected . after term ${term.type}`);
      default:
        return { type: 'chain', node: term, idents };
    }
  }

  private term(): Arg {
    const t = this.nextNonSpace();
    switch (t.kind) {
      case 'identifier':
        return { type: 'identifier', name: t.value };
      case 'dot':
        return { type: 'dot' };
      case 'nil':
        return { type: 'nil' };
      case 'variable':
        return { type: 'variable', name: t.value, idents: [] };
      case 'field':
        return { type: 'field', idents: [t.value] };
      case 'bool':
        return { type: 'bool', value: t.value === 'true' };
      case 'string':
        return { type: 'string', value: t.value };
      case 'char':
        return { type: 'number', value: BigInt(t.value) };
      case 'number':
        return { type: 'number', value: parseNumber(t.value, () => this.fail(`bad number syntax: ${t.value}`, t)) };
      case 'lparen':
        return { type: 'pipe', pipe: this.pipeline('action', 'rparen') };
      default:
        return this.fail(`unexpected ${describe(t)} in operand`, t);
    }
  }
}

/** Integers are Go ints (bigint); anything with a point or an exponent is a float64. */
function parseNumber(text: string, fail: () => never): bigint | number {
  const clean = text.replace(/_/g, '');
  if (/^[+-]?0[xX]/.test(clean) || /^[+-]?0[bBoO]/.test(clean)) {
    const neg = clean.startsWith('-');
    const n = BigInt(clean.replace(/^[+-]/, ''));
    return neg ? -n : n;
  }
  if (/^[+-]?[0-9]+$/.test(clean)) {
    // Go reads a leading 0 as octal.
    const neg = clean.startsWith('-');
    const digits = clean.replace(/^[+-]/, '');
    const n = digits.length > 1 && digits.startsWith('0') ? BigInt(`0o${digits.slice(1)}`) : BigInt(digits);
    return neg ? -n : n;
  }
  const f = Number(clean);
  if (Number.isNaN(f)) fail();
  return f;
}

function describe(t: Token): string {
  switch (t.kind) {
    case 'right':
      return '"}}"';
    case 'eof':
      return 'EOF';
    case 'space':
      return 'space';
    default:
      return `<${t.value}>`;
  }
}

/** Parses one template file (or tpl text) named `name`. */
export function parseTemplate(name: string, text: string): ParsedTemplate {
  const p = new Parser(name, lex(name, text));
  const root = p.parseTop();
  return { root, defines: p.defines };
}
