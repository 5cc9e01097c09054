// The layers of retrace, bottom up: a package may import only the packages listed for it
// (besides itself). eslint.config.js turns this table into import rules and
// scripts/check-layers.test.ts checks every package.json against it, so an arrow pointing up
// fails `make lint` and the unit tier. docs/adr/0012-layers.md says why these layers.
export const LAYERS = {
  // The model: events, their codec, JSON, packets, text, sorting, pcap-ng. No gRPC, no native code.
  '@retrace/events': { dir: 'packages/events', uses: [] },
  // Trace and probe syntax, profiles, validation: pure, no kernel, no cluster.
  '@retrace/spec': { dir: 'packages/spec', uses: [] },
  // gRPC services, TLS, health: the wire between processes.
  '@retrace/wire': { dir: 'packages/wire', uses: ['@retrace/events'] },
  // The daemons' flags over commander: typed tables, generated --help, usage errors.
  '@retrace/cli-flags': { dir: 'packages/cli-flags', uses: [] },
  // libbpf and libpcap through the native addon.
  '@retrace/ebpf-loader': { dir: 'packages/ebpf-loader', uses: [] },
  // The node engine: the only layer (with the CLI's local verbs) that loads BPF.
  '@retrace/agent': {
    dir: 'agent',
    uses: ['@retrace/events', '@retrace/spec', '@retrace/wire', '@retrace/cli-flags', '@retrace/ebpf-loader'],
  },
  // Sorting and storing events from every node, the query and control APIs.
  '@retrace/aggregator': {
    dir: 'aggregator',
    uses: ['@retrace/events', '@retrace/spec', '@retrace/wire', '@retrace/cli-flags'],
  },
  // The Trace controller (runs an aggregator in process unless told of a separate one).
  '@retrace/operator': {
    dir: 'operator',
    uses: ['@retrace/events', '@retrace/spec', '@retrace/wire', '@retrace/cli-flags', '@retrace/aggregator'],
  },
  '@retrace/cli': {
    dir: 'cli',
    uses: [
      '@retrace/events',
      '@retrace/spec',
      '@retrace/wire',
      '@retrace/cli-flags',
      '@retrace/ebpf-loader',
      '@retrace/agent',
      '@retrace/aggregator',
      '@retrace/operator',
    ],
  },
  // Scenarios, labs and benchmarks over everything.
  '@retrace/e2e': {
    dir: 'e2e',
    uses: [
      '@retrace/events',
      '@retrace/spec',
      '@retrace/wire',
      '@retrace/cli-flags',
      '@retrace/ebpf-loader',
      '@retrace/agent',
      '@retrace/aggregator',
      '@retrace/operator',
      '@retrace/cli',
    ],
  },
};
