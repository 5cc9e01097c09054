// Benchmark: what a translated packet filter costs per run, in each way it can read the packet
// (agent/src/filter/packet-loads.ts): direct loads (kernels 6.17+), the header copy, a helper
// call per load. Each filter runs through BPF_PROG_TEST_RUN (bpf/progs/filter_run*.bpf.c) on a
// TCP packet none of them accepts (a rejected hit), ROUNDS x REPEAT runs, the modes interleaved;
// the minimum of the rounds is printed, and an accept-all filter's time, which is the test
// harness's own. docs/cost/bpf.md has the numbers.
import { readFileSync } from 'node:fs';
import { FilterRunner, compileFilter, type FilterInput } from '@retrace/agent';
import { probeFeatures } from '@retrace/ebpf-loader';

const REPEAT = Number(process.env['RETRACE_BENCH_FILTER_REPEAT'] ?? 200_000);
const ROUNDS = Number(process.env['RETRACE_BENCH_FILTER_ROUNDS'] ?? 5);

const EXPRESSIONS: [string, string][] = [
  ['accept all (the harness)', ''],
  ['udp port 9', 'udp port 9'],
  ['tcp port 80', 'tcp port 80'],
  ['12 ports', Array.from({ length: 12 }, (_, i) => `port ${7000 + i}`).join(' or ')],
  ['host 10.0.0.1', 'host 10.0.0.1'],
];

const MODES = {
  direct: { direct: true },
  prefetch: { prefetch: true },
  helper: { prefetch: false },
};
type Mode = keyof typeof MODES;

/** Ethernet, IPv4, TCP 192.168.1.2:40000 -> 192.168.1.1:5201 (iperf3's port), an ACK. */
function tcpPacket(): FilterInput {
  const p = Buffer.alloc(66);
  p.writeUInt16BE(0x0800, 12);
  p[14] = 0x45;
  p.writeUInt16BE(52, 16);
  p[22] = 64;
  p[23] = 6;
  p.writeUInt32BE(0xc0a80102, 26);
  p.writeUInt32BE(0xc0a80101, 30);
  p.writeUInt16BE(40000, 34);
  p.writeUInt16BE(5201, 36);
  p[46] = 0x80;
  p[47] = 0x10;
  return { data: p, len: p.length };
}

function main(): void {
  const modes = (Object.keys(MODES) as Mode[]).filter((m) => m !== 'direct' || probeFeatures().direct_packet.available);
  if (!modes.includes('direct'))
    console.log('direct packet loads: not on this kernel (bpf_rdonly_cast to void, 6.17+)');
  const packet = tcpPacket();
  // The kernel's run-time statistics, when something else turned them on, add their own cost
  // (tens of ns) to every run.
  if (readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8').trim() !== '0')
    console.log('note: kernel.bpf_stats_enabled is on (another process): every time below includes its cost');
  console.log(
    `packet filters through BPF_PROG_TEST_RUN, ns per run (min of ${ROUNDS} x ${REPEAT} runs), eBPF instructions:`,
  );
  console.log(`${'filter'.padEnd(26)}${modes.map((m) => m.padStart(18)).join('')}`);
  for (const [name, expr] of EXPRESSIONS) {
    const runs = modes.map((m) => {
      const filter = compileFilter(expr, MODES[m]);
      return { filter, runner: new FilterRunner(filter), best: Infinity };
    });
    try {
      for (const r of runs)
        if (r.runner.matches(packet) !== (expr === '')) throw new Error(`${name}: unexpected verdict`);
      for (let round = 0; round < ROUNDS; round++)
        for (const r of runs) r.best = Math.min(r.best, r.runner.nsPerRun(packet, REPEAT));
    } finally {
      for (const r of runs) r.runner.close();
    }
    const cells = runs.map((r) => `${r.best.toFixed(0)} ns (${r.filter.ebpfInstructions})`.padStart(18));
    console.log(`${name.padEnd(26)}${cells.join('')}`);
  }
}

main();
