// The pager of `retrace print` and `retrace sort`, as retis has it: on a terminal only, $PAGER
// or else `less -FRX` (leaves at once when the text fits, keeps it on screen after), never
// with NOPAGER set. The verb's output is written synchronously to fd 1, so the command runs
// again as a child whose stdout and stderr are the pager's input (errors stay readable in the
// pager, as retis sends its log there too); its exit status is the command's.
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The verbs whose long text output is paged (retis's). */
export const PAGED_VERBS: ReadonlySet<string> = new Set(['print', 'sort']);

/** Set in the paged child: it must not page again. */
const PAGED_ENV = 'RETRACE_PAGED';

function onPath(cmd: string, path: string | undefined): boolean {
  for (const dir of (path ?? '').split(delimiter).filter(Boolean))
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  return false;
}

/**
 * The pager command to run, or undefined: not a terminal, NOPAGER set, already paged, PAGER
 * empty or `cat`, or no PAGER and no less.
 */
export function pagerCommand(env: NodeJS.ProcessEnv, stdoutIsTerminal: boolean): string | undefined {
  if (!stdoutIsTerminal || env.NOPAGER !== undefined || env[PAGED_ENV] !== undefined) return undefined;
  if (env.PAGER !== undefined) {
    const pager = env.PAGER.trim();
    return pager === '' || pager === 'cat' ? undefined : pager;
  }
  return onPath('less', env.PATH) ? 'less -FRX' : undefined;
}

/** Runs `argv` (this command line) again with its output through `pager`; resolves to its exit status. */
export async function runPaged(argv: readonly string[], pager: string): Promise<number> {
  const viewer = spawn('sh', ['-c', pager], { stdio: ['pipe', 'inherit', 'inherit'] });
  const viewerDone = new Promise<number>((done) => {
    viewer.on('exit', (code, signal) => done(code ?? (signal ? 128 : 1)));
    viewer.on('error', () => done(127));
  });
  // Ctrl-C is the pager's (less stops scrolling); the command itself stops when the pager ends.
  const ignore = (): void => {};
  process.on('SIGINT', ignore);
  try {
    const child = spawn(process.execPath, [...process.execArgv, ...argv.slice(1)], {
      stdio: ['inherit', viewer.stdin, viewer.stdin],
      env: { ...process.env, [PAGED_ENV]: '1' },
    });
    const code = await new Promise<number>((done) => {
      child.on('exit', (c, signal) => done(c ?? (signal ? 128 : 1)));
      child.on('error', () => done(1));
    });
    viewer.stdin.end();
    const viewerCode = await viewerDone;
    if (viewerCode === 127) {
      process.stderr.write(
        `retrace: the pager '${pager}' could not run; set PAGER to a pager, or NOPAGER=1 to print without one\n`,
      );
      return 1;
    }
    // 141: the command was writing when the reader quit the pager, which is how a pager ends.
    return code === 141 ? 0 : code;
  } finally {
    process.off('SIGINT', ignore);
  }
}
