// Runs the built `retrace` command as a real process, for end-to-end tests and scenarios.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function retraceBin(name = 'retrace'): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const bin = join(dir, 'cli', 'dist', 'bin', `${name}.js`);
    if (existsSync(bin)) return bin;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cli/dist/bin/${name}.js not found: run \`make build\``);
    dir = parent;
  }
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs retrace to completion. */
export function runRetrace(args: string[], input?: string): RunResult {
  const r = spawnSync(process.execPath, [retraceBin(), ...args], { encoding: 'utf8', input, maxBuffer: 1 << 28 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Runs `kubectl retrace ARGS` (the kubectl-retrace plugin) without blocking this process: the
 * caller may itself serve what the plugin talks to.
 */
export function runKubectlRetrace(args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  const child = spawn(process.execPath, [retraceBin('kubectl-retrace'), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

export interface Collector {
  child: ChildProcess;
  /** Resolves once probes are attached (or rejects with what the command said). */
  ready: Promise<void>;
  /** Sends a signal and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<RunResult>;
  exited: Promise<RunResult>;
}

/** Starts `retrace collect ARGS` in the background. */
export function startCollect(args: string[]): Collector {
  const child = spawn(process.execPath, [retraceBin(), 'collect', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  // 'close', not 'exit': the last lines the command wrote may still be in the pipes at exit.
  const exited = new Promise<RunResult>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  const ready = new Promise<void>((resolve, reject) => {
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (/probe\(s\) attached/.test(stderr)) resolve();
    });
    void exited.then((r) => reject(new Error(`retrace collect exited (${r.code}) before attaching: ${r.stderr}`)));
  });
  return {
    child,
    ready,
    exited,
    stop: async (signal: NodeJS.Signals = 'SIGINT') => {
      child.kill(signal);
      return exited;
    },
  };
}
