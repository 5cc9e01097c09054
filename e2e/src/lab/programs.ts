// retrace's BPF programs loaded in the kernel right now (by name, from bpftool): tests check that
// sessions load them and that nothing of ours is left when they end.
import { spawnSync } from 'node:child_process';

export function ourProgramsLoaded(): string[] {
  const r = spawnSync('bpftool', ['prog', 'list', '-j'], { encoding: 'utf8' });
  const progs = JSON.parse(r.stdout || '[]') as { name?: string }[];
  return progs.map((p) => p.name ?? '').filter((n) => /^probe_(raw_tp|kprobe|kretprobe|fentry|fexit|usdt)/.test(n));
}
