// The aggregator's gRPC server (agent links and queries), made the same way by the entrypoint
// and the benchmark: large messages (a batch is up to a few MiB) and a receive window that lets
// agents stream without waiting on every 64 KiB (see raiseServerReceiveWindow).
import type { EventEmitter } from 'node:events';
import { Server } from '@grpc/grpc-js';
import { raiseServerReceiveWindow } from '@retrace/wire';

export function aggregatorGrpcServer(): Server {
  raiseServerReceiveWindow();
  return new Server({
    'grpc.max_receive_message_length': 64 << 20,
    'grpc.keepalive_time_ms': 10_000,
  });
}

/**
 * Logs the TLS handshakes the server refuses (a certificate of another CA, none at all, an
 * expired one): grpc-js drops such connections without a word. Node gives the server little of
 * why (TLS 1.3 checks the client's certificate after the client thinks it is done, and the peer's
 * address is gone by then): the line says what it knows and what to check. The first refusal is
 * logged at once, then at most one line a minute with how many more (a client retrying in a loop
 * does not flood the log). grpc-js keeps its HTTP/2 servers in a private field: if a release
 * renames it, this says once that refusals go unlogged.
 */
export function logTlsRefusals(server: Server, log: (m: string) => void): void {
  const servers = (server as unknown as { http2Servers?: Map<EventEmitter, unknown> }).http2Servers;
  if (!servers) {
    log('note: this grpc-js does not expose its HTTP/2 servers: refused TLS handshakes are not logged');
    return;
  }
  let last = 0;
  let unlogged = 0;
  let lastUnverified = 0;
  for (const s of servers.keys()) {
    // With optional client certificates (--query-authz kubernetes) a certificate the CA did not
    // sign no longer fails the handshake: the connection goes on with no certificate identity.
    s.on(
      'secureConnection',
      (socket: {
        authorized?: boolean;
        authorizationError?: Error | string;
        remoteAddress?: string;
        getPeerCertificate?: () => { subject?: { CN?: unknown } };
      }) => {
        const err = socket.authorizationError;
        const code = typeof err === 'string' ? err : (err as { code?: string } | undefined)?.code;
        if (socket.authorized || !err || !socket.getPeerCertificate) return;
        const cn = socket.getPeerCertificate()?.subject?.CN;
        if (cn === undefined) return; // no certificate at all: a reader with a token
        const now = Date.now();
        if (now - lastUnverified < 60_000) return;
        lastUnverified = now;
        log(
          `a client${socket.remoteAddress ? ` at ${socket.remoteAddress}` : ''} presented a certificate ` +
            `(CN ${String(cn)}) this server's CA did not verify (${String(code ?? err)}): its calls carry no ` +
            'certificate identity (an agent is refused; a reader needs a bearer token)',
        );
      },
    );
    s.on(
      'tlsClientError',
      (err: Error & { code?: string }, socket: { remoteAddress?: string; remotePort?: number }) => {
        unlogged++;
        const now = Date.now();
        if (now - last < 60_000) return;
        last = now;
        const peer = socket.remoteAddress ? ` from ${socket.remoteAddress}:${socket.remotePort ?? '?'}` : '';
        log(
          `refused ${unlogged === 1 ? 'a TLS connection' : `${unlogged} TLS connections`}${peer} during the handshake ` +
            `(${err.code ?? 'error'}: ${err.message}): a client certificate this server's CA did not sign, an ` +
            'expired one, none at all, or a client that gave up',
        );
        unlogged = 0;
      },
    );
  }
}
