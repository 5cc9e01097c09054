// Executes a parsed template the way Go's text/template does: dot and `$`, variables scoped to
// their block, pipelines passing each result as the next command's last argument, fields of maps
// (a missing key is nil, as with Helm's missingkey=zero; a field of nil is an error), methods
// (functions found as fields) called with their arguments, `and`/`or` short-circuiting, maps
// ranged in key order.
import type { Arg, Command, ControlNode, Node, Pipe } from './ast.js';
import { ChartValueError, TemplateExecError, TemplateSyntaxError } from './errors.js';
import { isMap, kindOf, methodOf, printValue, truth, typeName, type GoFunc } from './values.js';

/** Thrown by functions to stop the render with the chart's own message (required, fail). */
export class FuncFail extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FuncFail';
  }
}

/** The templates and functions an execution can reach. */
export interface TemplateSet {
  lookup(name: string): Node[] | undefined;
  funcs: ReadonlyMap<string, GoFunc>;
}

const NO_FINAL: unique symbol = Symbol('no final');
type Final = unknown | typeof NO_FINAL;

class BreakSignal {}
class ContinueSignal {}

const MAX_DEPTH = 200;

export class Executor {
  private vars: { name: string; value: unknown }[] = [];
  private line = 0;
  private out: string[] = [];

  constructor(
    private readonly set: TemplateSet,
    private readonly name: string,
    private readonly depth = 0,
  ) {
    if (depth > MAX_DEPTH) this.fail(`exceeded maximum template depth (${MAX_DEPTH})`);
  }

  /** Runs `nodes` with dot = data and returns the text. */
  run(nodes: Node[], data: unknown): string {
    this.vars = [{ name: '$', value: data }];
    this.walkList(nodes, data);
    return this.out.join('');
  }

  private fail(detail: string): never {
    throw new TemplateExecError({ template: this.name, line: this.line }, detail);
  }

  private walkList(nodes: Node[], dot: unknown): void {
    for (const n of nodes) this.walk(n, dot);
  }

  private walk(n: Node, dot: unknown): void {
    switch (n.type) {
      case 'text':
        this.out.push(n.text);
        return;
      case 'action': {
        this.line = n.line;
        const v = this.pipeline(dot, n.pipe);
        if (n.pipe.decl.length === 0) this.out.push(printValue(v));
        return;
      }
      case 'if':
      case 'with': {
        this.line = n.line;
        const mark = this.vars.length;
        const v = this.pipeline(dot, n.pipe);
        if (truth(v)) this.walkList(n.list, n.type === 'with' ? v : dot);
        else if (n.elseList) this.walkList(n.elseList, dot);
        this.vars.length = mark;
        return;
      }
      case 'range':
        this.range(n, dot);
        return;
      case 'template': {
        this.line = n.line;
        const body = this.set.lookup(n.name);
        if (!body)
          this.fail(
            `template: no template ${JSON.stringify(n.name)} associated with template ${JSON.stringify(this.name)}`,
          );
        const data = n.pipe ? this.pipeline(dot, n.pipe) : undefined;
        this.out.push(new Executor(this.set, n.name, this.depth + 1).run(body, data));
        return;
      }
      case 'break':
        throw new BreakSignal();
      case 'continue':
        throw new ContinueSignal();
    }
  }

  private range(n: ControlNode, dot: unknown): void {
    this.line = n.line;
    const mark = this.vars.length;
    const pipe: Pipe = { ...n.pipe, decl: [] }; // variables are set per element, not to the whole value
    const v = this.pipeline(dot, pipe);
    const entries: [unknown, unknown][] = [];
    switch (kindOf(v)) {
      case 'slice':
        Array.from(v as ArrayLike<unknown>).forEach((e, i) => entries.push([BigInt(i), e]));
        break;
      case 'map': {
        const m = v as Record<string, unknown>;
        for (const k of Object.keys(m).sort()) entries.push([k, m[k]]);
        break;
      }
      case 'int':
        for (let i = 0n; i < (v as bigint); i++) entries.push([i, i]);
        break;
      case 'invalid':
        break;
      default:
        this.fail(`range can't iterate over ${printValue(v)}`);
    }
    for (const [key, elem] of entries) {
      const iterMark = this.vars.length;
      const [first, second] = n.pipe.decl;
      if (n.pipe.isAssign) {
        if (second !== undefined) {
          this.setVar(first as string, key);
          this.setVar(second, elem);
        } else if (first !== undefined) this.setVar(first, elem);
      } else if (second !== undefined) {
        this.vars.push({ name: first as string, value: key }, { name: second, value: elem });
      } else if (first !== undefined) this.vars.push({ name: first, value: elem });
      try {
        this.walkList(n.list, elem);
      } catch (e) {
        if (e instanceof BreakSignal) {
          this.vars.length = iterMark;
          break;
        }
        if (!(e instanceof ContinueSignal)) throw e;
      }
      this.vars.length = iterMark;
    }
    if (entries.length === 0 && n.elseList) this.walkList(n.elseList, dot);
    this.vars.length = mark;
  }

  private varValue(name: string): unknown {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i]!.name === name) return this.vars[i]!.value;
    return this.fail(`undefined variable: ${name}`);
  }

  private setVar(name: string, value: unknown): void {
    for (let i = this.vars.length - 1; i >= 0; i--)
      if (this.vars[i]!.name === name) {
        this.vars[i]!.value = value;
        return;
      }
    this.fail(`undefined variable: ${name}`);
  }

  private pipeline(dot: unknown, pipe: Pipe): unknown {
    this.line = pipe.line;
    let value: Final = NO_FINAL;
    for (const cmd of pipe.cmds) value = this.command(dot, cmd, value);
    const result = value === NO_FINAL ? undefined : value;
    for (const name of pipe.decl) {
      if (pipe.isAssign) this.setVar(name, result);
      else this.vars.push({ name, value: result });
    }
    return result;
  }

  private command(dot: unknown, cmd: Command, final: Final): unknown {
    const [first, ...rest] = cmd.args;
    if (!first) return this.fail('empty command');
    switch (first.type) {
      case 'field':
        return this.fieldChain(dot, first.idents, rest, final, dot);
      case 'variable':
        return this.fieldChain(this.varValue(first.name), first.idents, rest, final, dot, first.name);
      case 'chain':
        return this.fieldChain(this.arg(dot, first.node), first.idents, rest, final, dot);
      case 'identifier':
        return this.call(dot, first.name, rest, final);
      default:
        if (rest.length > 0 || final !== NO_FINAL)
          this.fail(`can't give argument to non-function ${describeArg(first)}`);
        return this.arg(dot, first);
    }
  }

  /** The value of an argument (fields and variables without arguments; identifiers called with none). */
  private arg(dot: unknown, a: Arg): unknown {
    switch (a.type) {
      case 'field':
        return this.fieldChain(dot, a.idents, [], NO_FINAL, dot);
      case 'variable':
        return this.fieldChain(this.varValue(a.name), a.idents, [], NO_FINAL, dot, a.name);
      case 'chain':
        return this.fieldChain(this.arg(dot, a.node), a.idents, [], NO_FINAL, dot);
      case 'identifier':
        return this.call(dot, a.name, [], NO_FINAL);
      case 'pipe': {
        const mark = this.vars.length;
        const v = this.pipeline(dot, a.pipe);
        this.vars.length = mark;
        return v;
      }
      case 'dot':
        return dot;
      case 'string':
      case 'number':
      case 'bool':
        return a.value;
      case 'nil':
        return undefined;
    }
  }

  private fieldChain(
    receiver: unknown,
    idents: string[],
    args: Arg[],
    final: Final,
    dot: unknown,
    start = '',
  ): unknown {
    if (idents.length === 0) {
      if (args.length > 0 || final !== NO_FINAL) this.fail(`can't give argument to non-function ${start || '.'}`);
      return receiver;
    }
    let v = receiver;
    let path = start;
    for (const [i, name] of idents.entries()) {
      const last = i === idents.length - 1;
      v = this.field(v, name, path, last ? args : [], last ? final : NO_FINAL, dot);
      path += `.${name}`;
    }
    return v;
  }

  private field(receiver: unknown, name: string, path: string, args: Arg[], final: Final, dot: unknown): unknown {
    if (receiver === null || receiver === undefined) this.fail(`nil pointer evaluating interface {}.${name}`);
    if (!isMap(receiver)) this.fail(`can't evaluate field ${name} in type ${typeName(receiver)}`);
    const v = Object.hasOwn(receiver, name) ? receiver[name] : methodOf(receiver, name);
    if (typeof v === 'function') {
      const values = args.map((a) => this.arg(dot, a));
      if (final !== NO_FINAL) values.push(final);
      return this.invoke(`${path}.${name}`, v as GoFunc, values);
    }
    if (args.length > 0 || final !== NO_FINAL)
      this.fail(`${path}.${name} has arguments but cannot be invoked as function`);
    return v;
  }

  private call(dot: unknown, name: string, args: Arg[], final: Final): unknown {
    // and/or evaluate their arguments only as far as needed (Go 1.18+).
    if (name === 'and' || name === 'or') {
      const all: (() => unknown)[] = args.map((a) => () => this.arg(dot, a));
      if (final !== NO_FINAL) all.push(() => final);
      if (all.length === 0) this.fail(`wrong number of args for ${name}: want at least 1 got 0`);
      let v: unknown;
      for (const get of all) {
        v = get();
        if (truth(v) === (name === 'or')) return v;
      }
      return v;
    }
    const fn = this.set.funcs.get(name);
    if (!fn) this.fail(`function "${name}" not defined`);
    const values = args.map((a) => this.arg(dot, a));
    if (final !== NO_FINAL) values.push(final);
    return this.invoke(name, fn, values);
  }

  private invoke(name: string, fn: GoFunc, values: unknown[]): unknown {
    try {
      return fn(...values);
    } catch (e) {
      if (e instanceof TemplateExecError || e instanceof ChartValueError || e instanceof TemplateSyntaxError) throw e;
      if (e instanceof FuncFail) throw new ChartValueError({ template: this.name, line: this.line }, e.message);
      this.fail(`error calling ${name}: ${(e as Error).message}`);
    }
  }
}

function describeArg(a: Arg): string {
  switch (a.type) {
    case 'string':
      return JSON.stringify(a.value);
    case 'number':
    case 'bool':
      return String(a.value);
    default:
      return a.type;
  }
}
