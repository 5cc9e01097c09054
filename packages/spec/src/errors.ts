// Syntax errors a user can act on: each names what was wrong and what to write instead.

export class ProbeSyntaxError extends Error {
  constructor(
    readonly spec: string,
    reason: string,
  ) {
    super(
      `invalid probe '${spec}': ${reason} (expected [TYPE:]TARGET[/stack] with TYPE kprobe|k|kretprobe|kr|tp|raw_tracepoint|fentry|fexit, or usdt:BINARY:PROVIDER:NAME)`,
    );
    this.name = 'ProbeSyntaxError';
  }
}

/** A collector, or one of its options, that does not exist or cannot run. */
export class CollectorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CollectorError';
  }
}
