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

/** --probe-stack cannot run: no filter to start from, or no kprobes to add. */
export class ProbeStackError extends Error {
  constructor(why: string) {
    super(`--probe-stack ${why}`);
    this.name = 'ProbeStackError';
  }
}

/** What --probe-stack needs of the options and the kernel, said before anything is loaded. */
export const PROBE_STACK_NEEDS_FILTER =
  'needs a filter (-f/--filter-packet and/or -m/--filter-meta): it follows the matching packets back through the functions of their stack traces';
export const probeStackNeedsKprobes = (why: string): string =>
  `adds kprobes as functions show up in stack traces, and this kernel has none (${why}); run it on a kernel with kprobes (CONFIG_KPROBES=y; the kernel lab, e2e/kernel-lab, boots one)`;
