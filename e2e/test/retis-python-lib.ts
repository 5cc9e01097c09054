// Shared by the retis-python tests: where retis's Python library is (scripts/deps.sh installs
// it), running `retrace python`, and comparing what the library reads with retrace's own JSON.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { retraceBin, type RunResult } from '@retrace/e2e';
import type { Event } from '@retrace/events';

export const RETIS_PYTHON =
  process.env.RETRACE_PYTHON || join(process.env.RETRACE_PYTHON_VENV || '/var/cache/retrace/python', 'bin', 'python');
export const DUMP_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'retis-python-dump.py');

/** Runs the dump script with the library's Python, standalone. */
export function dumpStandalone(file: string, kind: 'events' | 'series' | 'rotation'): DumpLine[] {
  const r = spawnSync(RETIS_PYTHON, [DUMP_SCRIPT, file, kind], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
    env: { ...process.env, RUST_BACKTRACE: '0' },
  });
  return parseDump({ code: r.status, stdout: r.stdout, stderr: r.stderr });
}

/** Fails with what to run when the library is not installed. */
export function requireRetisLibrary(): void {
  const r = spawnSync(RETIS_PYTHON, ['-c', 'import retis'], { encoding: 'utf8' });
  if (r.status !== 0)
    throw new Error(
      `retis's Python library is not at ${RETIS_PYTHON} (${r.error?.message ?? r.stderr.trim()}): ` +
        'run `make deps` (scripts/deps.sh installs it into /var/cache/retrace/python)',
    );
}

/** `retrace python ARGS` with the library's Python, optional stdin and environment. */
export function retracePython(
  args: string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): RunResult {
  const r = spawnSync(process.execPath, [retraceBin(), 'python', ...args], {
    encoding: 'utf8',
    input: opts.input ?? '',
    // The library's errors without a Rust backtrace: the message is what the tests show.
    env: { ...process.env, RETRACE_PYTHON: RETIS_PYTHON, RUST_BACKTRACE: '0', ...opts.env },
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
    maxBuffer: 1 << 28,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export interface Dumped {
  dict: Record<string, unknown>;
  sections: string[];
  text: string;
}
export type DumpLine = Dumped | { series: Dumped[]; len: number };

/** Parses the dump script's output; fails with the library's error when it refused the file. */
export function parseDump(r: RunResult): DumpLine[] {
  if (r.code !== 0) throw new Error(`retis's library failed (exit ${r.code}):\n${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as DumpLine);
}

/** An event's values as the dump writes them: integers as text, so that they compare exactly. */
export function normalized(v: unknown): unknown {
  if (typeof v === 'bigint' || typeof v === 'number') return String(v);
  if (Array.isArray(v)) return v.map(normalized);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalized(x)]));
  return v;
}

export interface Comparison {
  /** Where the library's value differs from retrace's, or the library has a field retrace lacks. */
  mismatches: string[];
  /** Fields retrace writes that the library does not read (path patterns, indices as []). */
  retraceOnly: Set<string>;
}

/** Compares retrace's event with the library's to_dict(), field by field. */
export function compareEvent(retrace: Event, retis: Record<string, unknown>, where: string, out: Comparison): void {
  const walk = (r: unknown, p: unknown, path: string, pattern: string): void => {
    if (p && typeof p === 'object' && !Array.isArray(p)) {
      if (!r || typeof r !== 'object' || Array.isArray(r)) {
        out.mismatches.push(`${where} ${path}: retrace ${JSON.stringify(r)}, retis ${JSON.stringify(p)}`);
        return;
      }
      const ro = r as Record<string, unknown>;
      const po = p as Record<string, unknown>;
      for (const k of Object.keys(po)) {
        if (!(k in ro))
          out.mismatches.push(`${where} ${path}.${k}: not in retrace's file, retis reads ${JSON.stringify(po[k])}`);
        else walk(ro[k], po[k], `${path}.${k}`, `${pattern}.${k}`);
      }
      for (const k of Object.keys(ro)) if (!(k in po)) out.retraceOnly.add(`${pattern}.${k}`.slice(1));
      return;
    }
    if (Array.isArray(p)) {
      if (!Array.isArray(r) || r.length !== p.length) {
        out.mismatches.push(`${where} ${path}: retrace ${JSON.stringify(r)}, retis ${JSON.stringify(p)}`);
        return;
      }
      p.forEach((x, i) => walk(r[i], x, `${path}[${i}]`, `${pattern}[]`));
      return;
    }
    if (r !== p) out.mismatches.push(`${where} ${path}: retrace ${JSON.stringify(r)}, retis ${JSON.stringify(p)}`);
  };
  walk(normalized(retrace), retis, '', '');
}
