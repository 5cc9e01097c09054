// tshark as the judge of what retrace decodes or writes: the fields of every packet of a capture.
import { execFileSync } from 'node:child_process';

let tsharkMissing = false;

/**
 * tshark's `fields` of every packet of `file`, a row each (`options`: its preferences, e.g.
 * `['-o', 'ip.check_checksum:TRUE']`); undefined when tshark is not installed.
 */
export function tsharkFields(file: string, fields: string[], options: string[] = []): string[][] | undefined {
  if (tsharkMissing) return undefined;
  try {
    const args = [...options, '-r', file, '-T', 'fields', ...fields.flatMap((f) => ['-e', f])];
    const out = execFileSync('tshark', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return out
      .trim()
      .split('\n')
      .map((l) => l.split('\t'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    tsharkMissing = true;
    return undefined;
  }
}
