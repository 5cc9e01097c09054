// A trace whose packet filter libpcap refuses: the agent refuses it before touching the kernel,
// naming spec.packetFilter (the operator cannot compile filters: it has no libpcap), and the
// refusal reaches the aggregator's summary as that node's error, which the operator turns into
// the trace's status (operator/test/controller/trace-status.test.ts). Real gRPC on loopback, the
// real aggregator.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { PodRef, TraceSpec } from '@retrace/events';
import { AgentLinkService } from '@retrace/wire';
import { Aggregator } from '@retrace/aggregator';
import { AgentDaemon } from '@retrace/agent';

const spec: TraceSpec = {
  name: 'team/bad-filter',
  namespaced: false,
  collectors: ['skb'],
  probes: [],
  filter: 'tcp port',
  meta_filter: '',
  stack: false,
  pods: [],
  ovs_track: false,
  ovs_enrich_flows: false,
  ovs_enrich_rate: 0,
  allow_system_changes: false,
  nodes: ['node-refuses'],
  skb_sections: [],
  nft_verdicts: '',
  profile: '',
};

test("the agent refuses a filter libpcap refuses, as spec.packetFilter, and the aggregator's summary says so", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rt-refusal-'));
  const agg = new Aggregator({ storeDir: dir, heartbeatMs: 100, deadlineMs: 2000, log: () => undefined });
  agg.setTraces([spec]);
  const server = new Server();
  server.addService(AgentLinkService, { Connect: agg.link.connect });
  const port = await new Promise<number>((res, rej) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
  );
  const logs: string[] = [];
  const daemon = new AgentDaemon({
    server: `127.0.0.1:${port}`,
    tls: { insecure: true },
    node: 'node-refuses',
    pods: {
      lookup: () => undefined,
      lookupHostIfindex: () => undefined,
      netnsOf: (_p: readonly PodRef[]) => [],
      setPods: () => undefined,
      refresh: async () => undefined,
      clear: () => undefined,
    },
    log: (m) => logs.push(m),
  });
  try {
    await daemon.start();
    const node = async () => {
      for (const end = Date.now() + 10_000; ; await new Promise((r) => setTimeout(r, 20))) {
        const n = agg.summary(spec.name).nodes?.find((x) => x.node === 'node-refuses');
        if (n?.state === 'failed') return n;
        if (Date.now() > end) throw new Error(`timed out waiting for the refusal; log: ${logs.join(' | ')}`);
      }
    };
    expect((await node()).error).toMatch(/^spec\.packetFilter: invalid packet filter 'tcp port': .*syntax error/);
    expect(logs.join('\n')).toMatch(/trace team\/bad-filter could not start: spec\.packetFilter: /);
  } finally {
    await daemon.stop(0);
    server.forceShutdown();
    agg.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
