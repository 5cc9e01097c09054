// Every network namespace of the machine, found the way `lsns -t net` does: the ones pinned in
// /run/netns and the ones some process lives in; one path per namespace (by inode).
import { readdirSync, statSync } from 'node:fs';

export interface NetnsRef {
  /** A path that opens it: /run/netns/NAME or /proc/PID/ns/net. */
  path: string;
  inode: number;
}

function inodeOf(path: string): number | undefined {
  try {
    return statSync(path).ino;
  } catch {
    return undefined;
  }
}

export function listNamespaces(): NetnsRef[] {
  const found = new Map<number, string>();
  const add = (path: string): void => {
    const ino = inodeOf(path);
    if (ino !== undefined && !found.has(ino)) found.set(ino, path);
  };
  add('/proc/self/ns/net');
  try {
    for (const name of readdirSync('/run/netns')) add(`/run/netns/${name}`);
  } catch {
    // no named namespaces
  }
  for (const pid of readdirSync('/proc')) if (/^\d+$/.test(pid)) add(`/proc/${pid}/ns/net`);
  return [...found].map(([inode, path]) => ({ inode, path }));
}
