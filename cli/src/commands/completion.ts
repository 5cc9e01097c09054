// `retrace sh-complete --shell bash|zsh|fish [--register PATH]` (retis's verb; `retrace
// completion SHELL` says the same): a completion script made from the command line's own
// definition, so it never lags behind a flag. Without --register it goes to stdout; with a
// directory, the file takes the name that shell looks for.
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command, Option } from 'commander';
import { COLLECTOR_NAMES, VERDICT_NAMES } from '@retrace/spec';
import { LOG_LEVELS } from '../log-level.js';
import { UsageError } from '../usage-error.js';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

export function parseShell(v: string): Shell {
  const shell = SHELLS.find((s) => s === v);
  if (!shell) throw new UsageError(`--shell '${v}': no completion for that shell; give one of ${SHELLS.join(', ')}`);
  return shell;
}

/** Values worth offering after a flag (by its long name); other flags with a value take files. */
const VALUES: Record<string, readonly string[]> = {
  '--format': ['single-line', 'multi-line'],
  '--log-level': LOG_LEVELS,
  '--collectors': ['auto', ...COLLECTOR_NAMES],
  '--skb-sections': ['all', 'meta', 'dataref', 'gso'],
  '--nft-verdicts': ['all', ...VERDICT_NAMES],
  '--shell': SHELLS,
};

interface Verb {
  name: string;
  about: string;
  options: readonly Option[];
  verbs: Verb[];
}

function verbOf(c: Command): Verb {
  return {
    name: c.name(),
    about: c.description().split('\n')[0] ?? '',
    options: c.options,
    verbs: c.commands.map(verbOf),
  };
}

const flagsOf = (options: readonly Option[]): string[] =>
  options.flatMap((o) => [o.short, o.long].filter((f): f is string => !!f));
const takesValue = (o: Option): boolean => o.required || o.optional;

/** Every verb path (`collect`, `profile list`). */
const allPaths = (v: Verb, prefix = ''): string[] =>
  v.verbs.flatMap((s) => {
    const path = prefix ? `${prefix} ${s.name}` : s.name;
    return [path, ...allPaths(s, path)];
  });

function bash(root: Verb): string {
  const name = root.name;
  const fn = `_${name.replace(/\W/g, '_')}`;
  const valued = (vs: Verb[]): string[] =>
    vs.flatMap((v) => [...v.options.filter(takesValue).flatMap((o) => flagsOf([o])), ...valued(v.verbs)]);
  const cases = (v: Verb, path: string): string[] => [
    `    "${path}") words="${[...v.verbs.map((s) => s.name), ...flagsOf(v.options), '--help'].join(' ')}" ;;`,
    ...v.verbs.flatMap((s) => cases(s, path ? `${path} ${s.name}` : s.name)),
  ];
  const everyOption = (v: Verb): Option[] => [...v.options, ...v.verbs.flatMap(everyOption)];
  const shorts = (long: string): string[] => [
    ...new Set(everyOption(root).flatMap((o) => (o.long === long && o.short ? [o.short] : []))),
  ];
  const values = Object.entries(VALUES).map(
    ([flag, vals]) => `    ${[...shorts(flag), flag].join('|')}) words="${vals.join(' ')}" ;;`,
  );
  return `# bash completion for ${name} (${name} sh-complete --shell bash)
${fn}() {
  local cur prev path words i w
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  path=""
  # The verbs typed so far, skipping flags and their values.
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    case " ${[...new Set(valued([root]))].join(' ')} " in
      *" $w "*) i=$((i + 1)); continue ;;
    esac
    [[ $w == -* ]] && continue
    # Only verbs extend the path (a FILE operand does not).
    case " ${allPaths(root)
      .map((x) => x.replace(/ /g, ':'))
      .join(' ')} " in
      *" \${path:+\${path// /:}:}$w "*) ;;
      *) continue ;;
    esac
    path="\${path:+$path }$w"
  done
  case "$prev" in
${values.join('\n')}
    *) words="" ;;
  esac
  if [[ -n $words ]]; then
    COMPREPLY=($(compgen -W "$words" -- "\${cur##*,}"))
    return
  fi
  case " ${[...new Set(valued([root]))].join(' ')} " in
    *" $prev "*) COMPREPLY=($(compgen -f -- "$cur")); return ;;
  esac
  case "$path" in
${cases(root, '').join('\n')}
    *) words="" ;;
  esac
  if [[ $cur == -* || -n $words ]]; then
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
  fi
  [[ \${#COMPREPLY[@]} -eq 0 && $cur != -* ]] && COMPREPLY=($(compgen -f -- "$cur"))
}
complete -F ${fn} ${name}
`;
}

function zsh(root: Verb): string {
  // zsh runs bash completion functions through bashcompinit: one script to keep true.
  return `#compdef ${root.name}
# zsh completion for ${root.name} (${root.name} sh-complete --shell zsh)
autoload -U +X bashcompinit && bashcompinit
${bash(root)}`;
}

const fishQuote = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

function fish(root: Verb): string {
  const name = root.name;
  const lines = [`# fish completion for ${name} (${name} sh-complete --shell fish)`, `complete -c ${name} -f`];
  const optionLines = (options: readonly Option[], condition: string): string[] =>
    options.map((o) => {
      const parts = [`complete -c ${name}`, `-n ${fishQuote(condition)}`];
      if (o.short) parts.push(`-s ${o.short.replace(/^-/, '')}`);
      if (o.long) parts.push(`-l ${o.long.replace(/^--/, '')}`);
      if (takesValue(o)) {
        const vals = o.long ? VALUES[o.long] : undefined;
        parts.push(vals ? `-x -a ${fishQuote(vals.join(' '))}` : '-r -F');
      }
      const about = (o.description.split('\n')[0] ?? '').slice(0, 80);
      if (about) parts.push(`-d ${fishQuote(about)}`);
      return parts.join(' ');
    });
  lines.push(...optionLines(root.options, '__fish_use_subcommand'));
  for (const v of root.verbs) {
    lines.push(`complete -c ${name} -n '__fish_use_subcommand' -a ${v.name} -d ${fishQuote(v.about.slice(0, 80))}`);
    const inVerb = `__fish_seen_subcommand_from ${v.name}`;
    if (v.verbs.length) {
      const subs = v.verbs.map((s) => s.name).join(' ');
      for (const s of v.verbs) {
        lines.push(
          `complete -c ${name} -n ${fishQuote(`${inVerb}; and not __fish_seen_subcommand_from ${subs}`)} -a ${s.name} -d ${fishQuote(s.about.slice(0, 80))}`,
        );
        lines.push(...optionLines(s.options, `${inVerb}; and __fish_seen_subcommand_from ${s.name}`));
      }
    }
    lines.push(...optionLines(v.options, inVerb));
    // Verbs with a file operand (print FILE, sort FILE...) complete files.
    if (v.options.length || v.name !== 'schema') lines.push(`complete -c ${name} -n ${fishQuote(inVerb)} -F`);
  }
  return `${lines.join('\n')}\n`;
}

export function completionScript(program: Command, shell: Shell): string {
  const root = verbOf(program);
  return shell === 'bash' ? bash(root) : shell === 'zsh' ? zsh(root) : fish(root);
}

/** The file a shell looks for in its completion directory (clap_complete's names, as retis). */
export const completionFileName = (name: string, shell: Shell): string =>
  shell === 'bash' ? `${name}.bash` : shell === 'zsh' ? `_${name}` : `${name}.fish`;

export function shComplete(program: Command, shellName: string, register: string | undefined): number {
  const shell = parseShell(shellName);
  const text = completionScript(program, shell);
  if (register === undefined) {
    process.stdout.write(text);
    return 0;
  }
  const target = statSync(register, { throwIfNoEntry: false })?.isDirectory()
    ? join(register, completionFileName(program.name(), shell))
    : register;
  try {
    writeFileSync(target, text);
  } catch (e) {
    throw new UsageError(
      `--register ${register}: cannot write ${target} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); give a writable file or directory`,
    );
  }
  process.stderr.write(`${shell} completion written to ${target}\n`);
  return 0;
}
