// The aggregator's gRPC server (agent links and queries), made the same way by the entrypoint
// and the benchmark: large messages (a batch is up to a few MiB) and a receive window that lets
// agents stream without waiting on every 64 KiB (see raiseServerReceiveWindow).
import { Server } from '@grpc/grpc-js';
import { raiseServerReceiveWindow } from '@retrace/events';

export function aggregatorGrpcServer(): Server {
  raiseServerReceiveWindow();
  return new Server({
    'grpc.max_receive_message_length': 64 << 20,
    'grpc.keepalive_time_ms': 10_000,
  });
}
