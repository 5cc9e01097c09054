// Feature probes report what the kernel really has, judged against independent evidence.
import { existsSync, readFileSync } from 'node:fs';
import { FEATURES, probeFeatures } from '@retrace/ebpf-loader';

/**
 * Expectations from outside the loader: sysfs/procfs facts, or RETRACE_EXPECT_FEATURES
 * ("kprobe=no,fentry=yes") for facts only the machine's owner knows.
 */
function expected(): Partial<Record<string, boolean>> {
  const exp: Partial<Record<string, boolean>> = {
    btf: existsSync('/sys/kernel/btf/vmlinux'),
    tp_btf: existsSync('/sys/kernel/btf/vmlinux'),
    raw_tp: true,
    ringbuf: true,
    uprobe: existsSync('/sys/bus/event_source/devices/uprobe'),
  };
  const hasKprobePmu = existsSync('/sys/bus/event_source/devices/kprobe');
  const hasKprobeEvents = existsSync('/sys/kernel/tracing/kprobe_events');
  exp.kprobe = hasKprobePmu || hasKprobeEvents;
  if (!exp.kprobe) {
    exp.kprobe_multi = false;
    // Kernels without kprobes here are the development machines, which also lack kprobe-multi and
    // refuse fentry (DESIGN.md, "What the development machines' kernel offers").
    exp.fentry = false;
  }
  for (const item of (process.env['RETRACE_EXPECT_FEATURES'] ?? '').split(',').filter(Boolean)) {
    const [k, v] = item.split('=');
    if (k) exp[k] = v === 'yes';
  }
  return exp;
}

test('every feature is reported, unavailable ones with a reason', () => {
  const report = probeFeatures();
  expect(Object.keys(report).sort()).toEqual([...FEATURES].sort());
  for (const f of FEATURES) {
    const r = report[f];
    if (!r.available) expect(r.reason).toMatch(/\S/);
  }
});

test('feature probes agree with what this kernel really offers', () => {
  const report = probeFeatures();
  const exp = expected();
  const mismatches = Object.entries(exp)
    .filter(([f, want]) => report[f as keyof typeof report].available !== want)
    .map(([f, want]) => `${f}: expected ${want}, probed ${JSON.stringify(report[f as keyof typeof report])}`);
  expect(mismatches).toEqual([]);
  const kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  console.info(`kernel ${kernel}: ${FEATURES.map((f) => `${f}=${report[f].available ? 'yes' : 'no'}`).join(' ')}`);
});

test('an unavailable kprobe names the missing kernel support and suggests a tracepoint', () => {
  const report = probeFeatures();
  if (report.kprobe.available) return; // nothing to explain on kernels with kprobes
  expect(report.kprobe.reason).toMatch(/CONFIG_KPROBES/);
  expect(report.kprobe.reason).toMatch(/tracepoint/);
});

test('direct packet loads come only with direct reads (the cast to void is the newer form of the kfunc)', () => {
  const report = probeFeatures();
  if (report.direct_packet.available) expect(report.direct_reads.available).toBe(true);
});
