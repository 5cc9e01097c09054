// Errors a user of `retrace collect` can act on: each names what was wrong and what to do. The
// syntax errors (probes, collector names) are @retrace/spec's, re-exported here.
export { CollectorError, ProbeSyntaxError } from '@retrace/spec';

export class ProbeNotFoundError extends Error {
  constructor(
    readonly spec: string,
    hint: string,
  ) {
    super(`probe '${spec}' matches nothing on this kernel${hint ? `; ${hint}` : ''}`);
    this.name = 'ProbeNotFoundError';
  }
}

export class ProbeUnusableError extends Error {
  constructor(
    readonly spec: string,
    reason: string,
  ) {
    super(`probe '${spec}' cannot be used: ${reason}`);
    this.name = 'ProbeUnusableError';
  }
}

/** No attach mechanism of the probe's kind works on this kernel. */
export class ProbeMechanismError extends Error {
  constructor(
    readonly spec: string,
    missing: string,
    suggestion: string,
  ) {
    super(`probe '${spec}' cannot be attached: this kernel lacks ${missing}; ${suggestion}`);
    this.name = 'ProbeMechanismError';
  }
}
