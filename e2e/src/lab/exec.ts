import { execFileSync, spawnSync } from 'node:child_process';

export class CommandError extends Error {
  constructor(
    readonly argv: string[],
    readonly status: number | null,
    readonly stderr: string,
  ) {
    super(`\`${argv.join(' ')}\` failed (exit ${status}): ${stderr.trim()}`);
    this.name = 'CommandError';
  }
}

/** Runs a command, returning stdout; throws CommandError naming the command and its stderr. */
export function run(argv: string[], input?: string): string {
  const [cmd, ...args] = argv;
  if (!cmd) throw new Error('empty command');
  const r = spawnSync(cmd, args, { input, encoding: 'utf8' });
  if (r.error) throw new CommandError(argv, null, r.error.message);
  if (r.status !== 0) throw new CommandError(argv, r.status, r.stderr);
  return r.stdout;
}

/** Runs a command and ignores failure (teardown paths). */
export function tryRun(argv: string[]): boolean {
  const [cmd, ...args] = argv;
  if (!cmd) return false;
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
