// Changes to the system retrace makes only with --allow-system-changes, each undone on exit.
import { execFileSync } from 'node:child_process';

/** Mounts tracefs at /sys/kernel/tracing; returns the undo. */
export function mountTracefs(): () => void {
  execFileSync('mount', ['-t', 'tracefs', 'tracefs', '/sys/kernel/tracing']);
  process.stderr.write('mounted tracefs at /sys/kernel/tracing (will unmount on exit)\n');
  return () => {
    try {
      execFileSync('umount', ['/sys/kernel/tracing']);
    } catch {
      process.stderr.write('warning: could not unmount /sys/kernel/tracing\n');
    }
  };
}
