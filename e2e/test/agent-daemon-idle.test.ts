// When the stream to the aggregator is lost while nothing is assigned, the agent keeps nothing:
// no session in the kernel and no pod mapping (it is rebuilt from the next assignments). Real gRPC
// on loopback; the aggregator side is the real link server with no traces to hand out.
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { type PodRef, type TraceSpec } from '@retrace/events';
import { AgentLinkService } from '@retrace/wire';
import { AgentLinkServer, type LinkHandler } from '@retrace/aggregator';
import { AgentDaemon } from '@retrace/agent';

const idle: LinkHandler = {
  tracesFor: (): TraceSpec[] => [],
  onRegister: () => undefined,
  onAttach: () => undefined,
  onBatch: () => undefined,
  onGap: () => undefined,
  onLost: () => undefined,
  onStatus: () => undefined,
  onComplete: () => undefined,
  onStreamEnd: () => undefined,
  onStreamError: () => undefined,
};

test('losing the aggregator with nothing assigned releases the pod mapping, and nothing is in the kernel', async () => {
  const server = new Server();
  server.addService(AgentLinkService, {
    Connect: new AgentLinkServer(idle, { heartbeatMs: 100, deadlineMs: 600 }).connect,
  });
  const port = await new Promise<number>((res, rej) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
  );
  const calls: string[] = [];
  const logs: string[] = [];
  const daemon = new AgentDaemon({
    server: `127.0.0.1:${port}`,
    tls: { insecure: true },
    node: 'node-idle',
    pods: {
      lookup: () => undefined,
      lookupHostIfindex: () => undefined,
      netnsOf: (_p: readonly PodRef[]) => [],
      setPods: () => void calls.push('setPods'),
      refresh: async () => void calls.push('refresh'),
      clear: () => void calls.push('clear'),
    },
    log: (m) => logs.push(m),
  });
  try {
    await daemon.start();
    const until = async (what: string, f: () => boolean): Promise<void> => {
      for (const end = Date.now() + 10_000; !f(); await new Promise((r) => setTimeout(r, 20)))
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}; log: ${logs.join(' | ')}`);
    };
    await until('the connection', () => logs.some((l) => /connected to .* as node node-idle/.test(l)));
    expect(calls).not.toContain('clear');
    server.forceShutdown();
    await until('the loss', () => logs.some((l) => /lost the aggregator/.test(l)));
    await until('the release', () => calls.includes('clear'));
    expect(logs.join('\n')).toMatch(/nothing assigned: no program of this agent in the kernel; pod mapping released/);
  } finally {
    await daemon.stop(0);
    server.forceShutdown();
  }
});
