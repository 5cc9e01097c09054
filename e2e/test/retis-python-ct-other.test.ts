// retis's ct section holds TCP, UDP and ICMP entries only, and its library refuses a whole file
// at a tuple it cannot read: retrace writes SCTP (and other) entries under `retrace-ct`, which
// the library skips and retrace reads back as ct.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { runRetrace } from '@retrace/e2e';
import { stringifyEvent, type Ct, type Event } from '@retrace/events';
import { tempDir } from './helpers.js';
import { RETIS_PYTHON, requireRetisLibrary } from './retis-python-lib.js';

const tmp = tempDir();

const tuple = (src: string, dst: string, sport: number, dport: number, vtag: number): Ct['orig'] =>
  ({ ip: { src, dst, version: 'v4' }, proto: { sctp: { sport, dport, vtag } } }) as Ct['orig'];

test("retis's library opens a file with an SCTP ct entry; retrace prints it", () => {
  requireRetisLibrary();
  // As retis 1.7 writes it (its reader needs every field of machine).
  const startup = JSON.stringify({
    startup: {
      retis_version: 'v1.7.0',
      cmdline: 'retrace collect',
      machine: { kernel_release: '6.18', kernel_version: '#1', hardware_name: 'x86_64' },
      clock_monotonic_offset: { sec: 0, nsec: 0 },
    },
  });
  const sctp: Event = {
    common: { timestamp: 5n, smp_id: 0 },
    kernel: { symbol: 'net:netif_receive_skb', probe_type: 'raw_tracepoint' },
    ct: {
      state: 'new',
      zone_id: 0,
      zone_dir: 'Default',
      orig: tuple('10.0.0.1', '10.0.0.2', 5000, 6000, 0xab),
      reply: tuple('10.0.0.2', '10.0.0.1', 6000, 5000, 0xcd),
      mark: 0,
      ct_status: 8n,
    } as Ct,
  };
  const tcp: Event = { common: { timestamp: 6n, smp_id: 0 }, kernel: sctp.kernel };
  const file = `${tmp.dir}/sctp.json`;
  writeFileSync(file, [startup, ...[sctp, tcp].map((e) => stringifyEvent(e))].join('\n') + '\n');
  const py = spawnSync(
    RETIS_PYTHON,
    ['-c', 'import sys\nfrom retis import EventReader\nprint(sum(1 for _ in EventReader(sys.argv[1])))', file],
    { encoding: 'utf8', env: { ...process.env, RUST_BACKTRACE: '0' } },
  );
  expect([py.status, py.stderr.split('\n')[0]]).toEqual([0, '']);
  expect(py.stdout.trim()).toBe('3'); // every event, the startup one too
  const printed = runRetrace(['print', file]);
  expect(printed.code).toBe(0);
  expect(printed.stdout).toContain(
    'ct_state NEW status 0x8 sctp (UNKNOWN) orig [10.0.0.1.5000 > 10.0.0.2.6000 vtag 0xab]',
  );
});
