// `retrace python [-i FILE] [SCRIPT [ARGS...]]`, as `retis python`: runs a Python script, or an
// interactive console, with the events of FILE loaded as `reader` (retis's EventFile), through
// retis's Python library from PyPI. A script given by name is looked up in the script folders.
import { spawn } from 'node:child_process';
import { constants, homedir } from 'node:os';
import { join } from 'node:path';
import { isFile } from '@retrace/events';
import { EventFileError, resolveInputSet } from '@retrace/events/script';
import { PYTHON_SHELL } from './python-shell.js';
import { DEFAULT_OUT, OLD_DEFAULT_OUT } from './input.js';

export interface PythonOptions {
  /** -i/--input; default retis.data, or retrace.data where only that exists. */
  input?: string;
}

/** A script named but found neither as a path nor in the script folders. */
export class PythonScriptNotFoundError extends Error {
  constructor(name: string, dirs: readonly string[]) {
    super(`Python script named ${name} not found (as a file, nor as ${name}.py in ${dirs.join(', ')})`);
    this.name = 'PythonScriptNotFoundError';
  }
}

/** No Python interpreter to run: what to install. */
export class PythonMissingError extends Error {
  constructor(python: string) {
    super(
      `cannot run ${python}: retrace python needs Python 3 with retis's library ` +
        `(install python3, then: python3 -m pip install retis; or set RETRACE_PYTHON to a Python that has it)`,
    );
    this.name = 'PythonMissingError';
  }
}

/** Where scripts are found by name (without .py), first match wins: retrace's, then retis's. */
export function scriptDirs(home = process.env.HOME ?? homedir()): string[] {
  return [
    join(home, '.config/retrace/python'),
    join(home, '.config/retis/python'),
    '/usr/share/retrace/python',
    '/usr/share/retis/python',
  ];
}

export function findScript(script: string, dirs = scriptDirs()): string {
  if (isFile(script)) return script;
  for (const dir of dirs) {
    const p = join(dir, `${script}.py`);
    if (isFile(p)) return p;
  }
  throw new PythonScriptNotFoundError(script, dirs);
}

/** Without -i: retis.data (or its rotated set), else what an older retrace wrote, as print reads. */
export function defaultInput(): string {
  const set = (p: string): boolean => isFile(p) || isFile(`${p}.0`);
  return [DEFAULT_OUT, OLD_DEFAULT_OUT].find(set) ?? DEFAULT_OUT;
}

export async function python(script: string | undefined, args: string[], opts: PythonOptions): Promise<number> {
  // As retis: the script is looked up first, then the events file opened.
  const scriptPath = script === undefined ? undefined : findScript(script);
  const input = opts.input ?? defaultInput();
  // The file is checked here so that a wrong path gets retrace's message, not a Python trace.
  const files = resolveInputSet(input);
  if (!files.length || !isFile(files[0] as string))
    throw new EventFileError(`cannot read events file ${input}: not a file`, input);
  const interpreter = process.env.RETRACE_PYTHON || 'python3';
  const argv = ['-c', PYTHON_SHELL, files[0] as string, files.length > 1 ? '1' : '0'];
  if (scriptPath !== undefined) argv.push(scriptPath, ...args);
  const child = spawn(interpreter, argv, { stdio: 'inherit' });
  // Ctrl-C reaches Python too (same process group): it decides, as in any console.
  const ignore = (): void => {};
  process.on('SIGINT', ignore);
  try {
    return await new Promise<number>((resolve, reject) => {
      child.once('error', (e: NodeJS.ErrnoException) =>
        reject(e.code === 'ENOENT' ? new PythonMissingError(interpreter) : e),
      );
      // The script's own exit status; killed by a signal, 128 + its number as a shell says.
      child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? constants.signals[signal] : 0)));
    });
  } finally {
    process.off('SIGINT', ignore);
  }
}
