// An entry's args as command-line flags: `key: value` -> --key value (underscores become
// dashes), a list repeats the flag, `~` is a bare flag. Each key must be an option of the
// subcommand, with or without a value as that option expects.
import type { ProfileArg } from './profile-file.js';

export interface OptionShape {
  /** `--probe` */
  flag: string;
  value: 'required' | 'optional' | 'none';
}

export interface ExpandedArgs {
  argv: string[];
  /** What is wrong with keys, one message per key (empty when everything expanded). */
  problems: string[];
}

export function expandArgs(
  args: readonly ProfileArg[],
  options: readonly OptionShape[],
  subcommand: string,
): ExpandedArgs {
  const argv: string[] = [];
  const problems: string[] = [];
  for (const { key, value, line } of args) {
    // A one-letter key is a short flag: `e: ~` is -e.
    const flag = key.length === 1 ? `-${key}` : `--${key.replace(/_/g, '-')}`;
    const at = `'${key}' (line ${line})`;
    const option = options.find((o) => o.flag === flag);
    if (!option) {
      problems.push(
        `${at}: retrace ${subcommand} has no ${flag} option; its options are ${options.map((o) => o.flag).join(', ')}`,
      );
      continue;
    }
    if (value === null) {
      if (option.value === 'required') problems.push(`${at}: ${flag} needs a value (give one, or a list), not ~`);
      else argv.push(flag);
      continue;
    }
    if (option.value === 'none') {
      problems.push(`${at}: ${flag} takes no value; write '${key}: ~' for the bare flag`);
      continue;
    }
    for (const v of Array.isArray(value) ? value : [value])
      // `--out=-`: an optional value starting with a dash would otherwise be read as a flag
      argv.push(...(option.value === 'optional' ? [`${flag}=${v}`] : [flag, v]));
  }
  return { argv, problems };
}
