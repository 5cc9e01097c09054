// Kernel releases and the version requirements of `when: [{type: version}]` conditions.

/** major, minor, patch; parts a release or requirement leaves out are 0. */
export type KernelVersion = readonly [number, number, number];

export type VersionOp = '>' | '>=' | '<' | '<=' | '=';

export interface VersionComparator {
  op: VersionOp;
  version: KernelVersion;
}

/** A requirement that cannot be read; the caller adds the file and line. */
export class VersionRequirementError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VersionRequirementError';
  }
}

/** `6.18.44-fc-v657` -> [6, 18, 44]: distribution suffixes after the numbers are ignored. */
export function parseKernelRelease(release: string): KernelVersion {
  const m = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(release.trim());
  if (!m) throw new VersionRequirementError(`kernel release '${release}' does not start with a version number`);
  return [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)];
}

/** `">=3.5.5, <6"`: comparators separated by commas, all of which must hold. */
export function parseVersionRequirement(text: string): VersionComparator[] {
  const parts = text.split(',').map((s) => s.trim());
  if (parts.some((p) => !p))
    throw new VersionRequirementError(`version requirement '${text}' has an empty part (e.g. ">=5.4, <6")`);
  return parts.map((part) => {
    const m = /^(>=|<=|>|<|=)\s*(\d+(?:\.\d+){0,2})$/.exec(part);
    if (!m)
      throw new VersionRequirementError(
        `'${part}' in version requirement '${text}' is not COMPARATOR X[.Y[.Z]] with a comparator among > >= < <= =`,
      );
    const [major = 0, minor = 0, patch = 0] = (m[2] ?? '').split('.').map(Number);
    return { op: m[1] as VersionOp, version: [major, minor, patch] };
  });
}

function compare(a: KernelVersion, b: KernelVersion): number {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return (a[i] ?? 0) - (b[i] ?? 0);
  return 0;
}

export function satisfies(version: KernelVersion, requirement: VersionComparator[]): boolean {
  return requirement.every(({ op, version: v }) => {
    const c = compare(version, v);
    return op === '>' ? c > 0 : op === '>=' ? c >= 0 : op === '<' ? c < 0 : op === '<=' ? c <= 0 : c === 0;
  });
}
