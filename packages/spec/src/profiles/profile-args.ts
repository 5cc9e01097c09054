// `-p NAME[,NAME...]` for one subcommand: each profile's first entry that fits this kernel,
// expanded to flags, in the order the profiles were named (they go after the user's own).
import { commaList } from '../comma-list.js';
import { chooseEntry, type KernelFacts } from './conditions.js';
import { ProfileArgumentError, ProfileNoMatchError } from './errors.js';
import { expandArgs, type OptionShape } from './expand-args.js';
import type { ProfileEntry, Section } from './profile-file.js';
import { findProfile } from './search-path.js';

export interface ProfileContext {
  dirs: readonly string[];
  kernel: KernelFacts;
  /** Where notes go (stderr for the command). */
  warn: (line: string) => void;
}

/** `-p a,b -p c` -> [a, b, c] */
export function profileNames(values: readonly string[]): string[] {
  return commaList(values);
}

function entryLabel(section: Section, entry: ProfileEntry): string {
  return `${section} entry ${entry.number}${entry.name ? ` '${entry.name}'` : ''}`;
}

export function profileArguments(
  values: readonly string[],
  section: Section,
  options: readonly OptionShape[],
  ctx: ProfileContext,
): string[] {
  const argv: string[] = [];
  for (const name of profileNames(values)) {
    const profile = findProfile(name, ctx.dirs, ctx.warn);
    const entries = profile.sections[section] ?? [];
    if (!entries.length) {
      ctx.warn(`profile ${profile.name}: no ${section} entries, nothing applied`);
      continue;
    }
    const entry = chooseEntry(entries, ctx.kernel);
    if (!entry) throw new ProfileNoMatchError(profile.name, profile.file, section, ctx.kernel.release);
    const expanded = expandArgs(entry.args, options, section);
    if (expanded.problems.length)
      throw new ProfileArgumentError(
        `profile ${profile.name} (${profile.file}), ${entryLabel(section, entry)}: ${expanded.problems.join('; ')}`,
      );
    // Entries for other kernels are not used here, but their author should hear they would fail.
    for (const other of entries.filter((e) => e !== entry)) {
      const { problems } = expandArgs(other.args, options, section);
      if (problems.length)
        ctx.warn(
          `warning: profile ${profile.name} (${profile.file}), ${entryLabel(section, other)} (not used on this kernel): ${problems.join('; ')}`,
        );
    }
    ctx.warn(
      `profile ${profile.name}: applying ${entryLabel(section, entry)}${expanded.argv.length ? `: ${expanded.argv.join(' ')}` : ''}`,
    );
    argv.push(...expanded.argv);
  }
  return argv;
}
