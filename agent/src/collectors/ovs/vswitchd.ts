// Finding ovs-vswitchd: every process of that name (host or container: /proc/PID/exe reaches
// its binary either way), one entry per binary file, and whether it was built with USDT probes.
import { readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';

export interface Vswitchd {
  pid: number;
  /** Path that reaches the binary from here (/proc/PID/exe). */
  binary: string;
  /** The binary's own path, for messages. */
  path: string;
  /** It has the upcall USDT probes (ovs-vswitchd configured with --enable-usdt-probes). */
  usdt: boolean;
}

// How the probe's note reads in .note.stapsdt: provider and name, NUL-terminated, side by side.
const RECV_UPCALL_NOTE = Buffer.from('dpif_recv\0recv_upcall\0');

export function findVswitchd(proc = '/proc'): Vswitchd[] {
  const seen = new Set<string>();
  const out: Vswitchd[] = [];
  for (const entry of readdirSync(proc)) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`${proc}/${entry}/comm`, 'utf8').trim() !== 'ovs-vswitchd') continue;
      const binary = `${proc}/${entry}/exe`;
      const st = statSync(binary);
      const id = `${st.dev}:${st.ino}`;
      if (seen.has(id)) continue;
      seen.add(id);
      out.push({
        pid: Number(entry),
        binary,
        path: readlinkSync(binary),
        usdt: readFileSync(binary).includes(RECV_UPCALL_NOTE),
      });
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return out;
}
