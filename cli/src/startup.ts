// The first event of every file: versions, command line, clock offset, machine.
import { readFileSync } from 'node:fs';
import { arch, release, version as osVersion } from 'node:os';
import { monotonicClockOffset } from '@retrace/ebpf-loader';
import { clockOffsetFromNs, type Event } from '@retrace/events';

export const RETRACE_VERSION = '0.1.0';
/**
 * The retis release whose file layout retrace writes. retis's readers pick their fixups from
 * this claim: 1.7.0 and later are read as written; a 1.5 or 1.6 claim would make them rewrite
 * retrace's 1.7 layout (and refuse it). e2e/test/retis-python-startup.test.ts checks both.
 */
export const RETIS_FORMAT = 'v1.7.0';

export function monotonicNow(): bigint {
  return process.hrtime.bigint(); // CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns()
}

/** `split`: this file's place in a rotated set (collect --out-rotate), as retis records it. */
export function startupEvent(cmdline: string, split?: { id: number; limit: number }): Event {
  const mono = monotonicNow();
  let kernelVersion = osVersion();
  try {
    kernelVersion = readFileSync('/proc/sys/kernel/version', 'utf8').trim();
  } catch {
    // keep os.version()
  }
  return {
    common: { timestamp: mono },
    startup: {
      retis_version: RETIS_FORMAT,
      retrace_version: RETRACE_VERSION,
      cmdline,
      clock_monotonic_offset: clockOffsetFromNs(monotonicClockOffset().offsetNs),
      machine: {
        kernel_release: release(),
        kernel_version: kernelVersion,
        hardware_name: arch() === 'x64' ? 'x86_64' : arch(),
      },
      ...(split ? { split_file: { id: split.id, policy: { kind: 'size', limit: BigInt(split.limit) } } } : {}),
    },
  };
}
