// `retrace inspect -p PATTERN`: which probes exist, are usable with the chosen collectors on
// this kernel, and by which mechanism; then the kernel's features and, from its build
// configuration (--kconf FILE, else found where retis looks), the options retrace cares about.
import { chooseCollectors, chooseMechanism, resolveProbe } from '@retrace/agent';
import { parseProbe } from '@retrace/spec';
import { probeFeatures } from '@retrace/ebpf-loader';
import { describeConfig, kernelConfig, kernelConfigPaths } from '../kernel-config.js';

export function inspect(patterns: string[], collectors: string[], kconf?: string): number {
  const config = kernelConfig(kconf); // a bad --kconf stops here, before the probes are listed
  const features = probeFeatures();
  chooseCollectors(collectors); // validates the list
  let failed = 0;
  for (const pattern of patterns.length ? patterns : ['tp:*']) {
    const spec = parseProbe(pattern);
    let mechanism: string;
    try {
      mechanism = chooseMechanism(spec.kind, spec.text, features);
    } catch (e) {
      process.stdout.write(`${pattern}: ${(e as Error).message}\n`);
      failed++;
      continue;
    }
    try {
      const probes = resolveProbe(spec);
      for (const p of probes)
        process.stdout.write(
          `${spec.kind === 'tracepoint' ? 'tp' : spec.kind}:${p.symbol}  ${mechanism}  skb=arg${(p.skbArg ?? 0) + 1}` +
            `${p.reasonArg !== undefined ? ` reason=arg${p.reasonArg + 1}` : ''}  ${p.prototype ?? ''}\n`,
        );
      process.stderr.write(`${probes.length} probe(s) match ${pattern}\n`);
    } catch (e) {
      process.stdout.write(`${pattern}: ${(e as Error).message}\n`);
      failed++;
    }
  }
  process.stderr.write(
    `kernel features: ${Object.entries(features)
      .map(([k, v]) => `${k}=${v.available ? 'yes' : 'no'}`)
      .join(' ')}\n`,
  );
  if (config)
    process.stderr.write(
      `kernel configuration ${config.path}:\n${describeConfig(config)
        .map((l) => `  ${l}\n`)
        .join('')}`,
    );
  else
    process.stderr.write(
      `warning: no kernel configuration found in ${kernelConfigPaths().join(', ')}: give it with --kconf FILE\n`,
    );
  return failed ? 1 : 0;
}
