// A trace's spec refused, naming the field: by the operator (checks the API server's schema cannot
// make), by the CLI before it creates the trace, or by an agent (the packet filter, which only
// agents can compile). An agent's refusal reaches the operator as text (its attach error), so the
// `spec.FIELD: ` prefix is the contract: fieldOf() reads it back.

const PREFIX = /^spec\.([A-Za-z][\w.]*(?:\[\d+\])?(?:\.[A-Za-z]\w*)*): /;

export class TraceSpecError extends Error {
  constructor(
    readonly field: string,
    detail: string,
  ) {
    super(`spec.${field}: ${detail}`);
    this.name = 'TraceSpecError';
  }

  /** The field a refusal message names (`spec.packetFilter: ...` -> packetFilter), if it is one. */
  static fieldOf(message: string): string | undefined {
    return PREFIX.exec(message)?.[1];
  }
}
