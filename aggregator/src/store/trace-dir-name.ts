// A trace's directory in the store: its name made safe as one path component, and back.
import { createHash } from 'node:crypto';
import { StoreError } from './errors.js';

/** A directory name for a trace name: reversible %-encoding, hashed when too long. */
export function traceDirName(trace: string): string {
  if (trace === '') throw new StoreError('a trace needs a name (namespace/name or name)');
  let out = '';
  for (const byte of Buffer.from(trace, 'utf8')) {
    const c = String.fromCharCode(byte);
    const plain = /[A-Za-z0-9_-]/.test(c) || (c === '.' && out !== '');
    out += plain ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  if (out.length > 200) out = `${out.slice(0, 150)}~${createHash('sha1').update(trace).digest('hex').slice(0, 16)}`;
  return out;
}

/** The trace name a directory name was made from, when it can be told (not hashed). */
export function traceNameOfDir(dirName: string): string | undefined {
  if (!/^(?:[A-Za-z0-9_.-]|%[0-9A-F]{2})+$/.test(dirName)) return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < dirName.length; i++) {
    if (dirName[i] === '%') {
      bytes.push(parseInt(dirName.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(dirName.charCodeAt(i));
  }
  const name = Buffer.from(bytes).toString('utf8');
  return name !== '' && traceDirName(name) === dirName ? name : undefined;
}
