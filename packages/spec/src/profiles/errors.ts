// Errors about profiles: each names the profile file (and line when known) and what to change.
/** Every profile problem: a profile named (on a command line, in a trace) cannot be used as it is. */
export class ProfileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProfileError';
  }
}

/** The file is not valid YAML, or not a profile (missing or wrongly typed keys). */
export class ProfileFormatError extends ProfileError {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    reason: string,
  ) {
    super(`profile file ${file}${line !== undefined ? ` line ${line}` : ''}: ${reason}`);
    this.name = 'ProfileFormatError';
  }
}

/** No profile of that name in any searched directory. */
export class ProfileNotFoundError extends ProfileError {
  constructor(
    readonly profile: string,
    available: string[],
    dirs: string[],
    notes: string[] = [],
  ) {
    super(
      `no profile named '${profile}'; available: ${available.length ? available.join(', ') : '(none)'}; ` +
        `searched ${dirs.join(', ')} (add a directory with -P DIR, or give a file path)` +
        notes.map((n) => `; ${n}`).join(''),
    );
    this.name = 'ProfileNotFoundError';
  }
}

/** Two profiles of one name in the same directory: which one was meant cannot be told. */
export class DuplicateProfileError extends ProfileError {
  constructor(
    readonly profile: string,
    files: string[],
  ) {
    super(`profile '${profile}' is defined more than once in one directory: ${files.join(' and ')}; rename one`);
    this.name = 'DuplicateProfileError';
  }
}

/** None of a section's entries has all its `when` conditions true on this kernel. */
export class ProfileNoMatchError extends ProfileError {
  constructor(
    readonly profile: string,
    file: string,
    section: string,
    release: string,
  ) {
    super(
      `profile ${profile} (${file}): no ${section} entry matched this kernel (release ${release}); ` +
        'add an entry without `when` as a fallback, or choose another profile',
    );
    this.name = 'ProfileNoMatchError';
  }
}

/** An entry's argument is not an option of the subcommand, or has the wrong shape for it. */
export class ProfileArgumentError extends ProfileError {
  constructor(message: string) {
    super(message);
    this.name = 'ProfileArgumentError';
  }
}
