// A set of templates sharing their defines and functions, like a Go *template.Template with
// Helm's function map: files are added, then any of them (or a define) is executed by name.
import type { Node } from './ast.js';
import { TemplateExecError } from './errors.js';
import { Executor, type TemplateSet } from './evaluator.js';
import { parseTemplate } from './parser.js';
import type { GoFunc } from './values.js';

const MAX_INCLUDE_DEPTH = 100;

export class Engine implements TemplateSet {
  private readonly templates = new Map<string, Node[]>();
  readonly funcs = new Map<string, GoFunc>();
  private depth = 0;

  constructor(funcs: Record<string, GoFunc> = {}) {
    for (const [k, f] of Object.entries(funcs)) this.funcs.set(k, f);
  }

  /** Parses `text` as template `name`; its defines join the set (a later define wins, as in Go). */
  add(name: string, text: string): void {
    const parsed = parseTemplate(name, text);
    this.templates.set(name, parsed.root);
    for (const [n, body] of parsed.defines) this.templates.set(n, body);
  }

  lookup(name: string): Node[] | undefined {
    return this.templates.get(name);
  }

  has(name: string): boolean {
    return this.templates.has(name);
  }

  /** Runs template `name` with dot = data. */
  execute(name: string, data: unknown, caller = name): string {
    const body = this.templates.get(name);
    if (!body) throw new TemplateExecError({ template: caller, line: 0 }, `no template ${JSON.stringify(name)}`);
    if (this.depth >= MAX_INCLUDE_DEPTH)
      throw new TemplateExecError(
        { template: name, line: 0 },
        `rendering template has a nested reference name: ${name}`,
      );
    this.depth++;
    try {
      return new Executor(this, name).run(body, data);
    } finally {
      this.depth--;
    }
  }

  /** Parses and runs a template text (Helm's tpl): its defines join the set. */
  executeText(name: string, text: string, data: unknown): string {
    const parsed = parseTemplate(name, text);
    for (const [n, body] of parsed.defines) this.templates.set(n, body);
    this.depth++;
    try {
      return new Executor(this, name).run(parsed.root, data);
    } finally {
      this.depth--;
    }
  }
}
