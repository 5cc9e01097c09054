// Errors of the template engine and the chart renderer. Each names where it happened (template
// and line) and what to do, the way Helm's own messages do.

/** Where in a template: `retrace/templates/agent.yaml:12`. */
export interface Where {
  template: string;
  line: number;
}

const at = (w: Where): string => `${w.template}:${w.line}`;

/** The template text does not parse (unclosed action, unknown keyword, bad token). */
export class TemplateSyntaxError extends Error {
  constructor(
    readonly where: Where,
    detail: string,
  ) {
    super(`template: ${at(where)}: ${detail}`);
    this.name = 'TemplateSyntaxError';
  }
}

/** Executing a template failed (nil field access, wrong argument types, unknown function...). */
export class TemplateExecError extends Error {
  constructor(
    readonly where: Where,
    detail: string,
  ) {
    super(`template: ${at(where)}: executing: ${detail}`);
    this.name = 'TemplateExecError';
  }
}

/** `required` met an empty value, or `fail` was called: the chart refuses these values. */
export class ChartValueError extends Error {
  constructor(
    readonly where: Where,
    detail: string,
  ) {
    super(`${at(where)}: ${detail}`);
    this.name = 'ChartValueError';
  }
}

/** The values do not satisfy values.schema.json. */
export class ValuesSchemaError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `values don't meet the specifications of the schema(s) in the following chart(s):\nretrace:\n- ${problems.join('\n- ')}`,
    );
    this.name = 'ValuesSchemaError';
  }
}

/** A rendered document is not YAML, or not a Kubernetes object. */
export class ManifestError extends Error {
  constructor(
    readonly source: string,
    detail: string,
  ) {
    super(`${source}: ${detail}`);
    this.name = 'ManifestError';
  }
}
