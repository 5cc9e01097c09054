// BPF programs in the kernel by id (bpftool), and those a process holds: the real-cluster test
// checks that an agent's programs go with its pod.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

/** Ids of the BPF programs loaded in the kernel now. */
export function bpfProgramIds(): Set<number> {
  const list = JSON.parse(execFileSync('bpftool', ['prog', 'show', '-j'], { encoding: 'utf8' })) as { id: number }[];
  return new Set(list.map((p) => p.id));
}

/** Ids of the BPF programs a process holds open (its fds on bpf-prog, and the programs of its bpf links). */
export function programsOfPid(pid: number): number[] {
  const ids = new Set<number>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target = '';
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    if (!/^anon_inode:bpf[-_](prog|link)$/.test(target)) continue;
    const id = /^prog_id:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))?.[1];
    if (id) ids.add(Number(id));
  }
  return [...ids];
}
