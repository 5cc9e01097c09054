// Which entry of a profile section applies: the first whose `when` conditions all hold on the
// running kernel. The kernel is passed in, so tests can pretend to be any kernel.
import type { Condition, ProfileEntry } from './profile-file.js';
import { parseKernelRelease, satisfies } from './kernel-version.js';

/** What conditions ask about the running kernel. */
export interface KernelFacts {
  /** `uname -r`, e.g. 6.18.44-fc-v657. */
  release: string;
  /** A kernel function, or a tracepoint as `category:name` or bare name. */
  hasSymbol(name: string): boolean;
}

export function conditionHolds(condition: Condition, kernel: KernelFacts): boolean {
  if (condition.type === 'version') return satisfies(parseKernelRelease(kernel.release), condition.requirement);
  return kernel.hasSymbol(condition.name) === condition.exists;
}

/** The first entry whose conditions all hold (an entry without `when` always does). */
export function chooseEntry(entries: readonly ProfileEntry[], kernel: KernelFacts): ProfileEntry | undefined {
  return entries.find((e) => e.when.every((c) => conditionHolds(c, kernel)));
}
