// grpc-js (1.14) lets a client raise its HTTP/2 receive window ('grpc-node.flow_control_window')
// but not a server, whose window stays at HTTP/2's default 64 KiB (grpc/grpc-node PR #3058 is
// still open). The aggregator receives far more than it sends: with 64 KiB, an agent stops after
// each 64 KiB until the aggregator's event loop is free to send a WINDOW_UPDATE, and both sides
// wait on each other (measured in the cluster-pipeline bench: the agent spent most of its time
// blocked). This raises the window of the HTTP/2 servers made from now on in this process: grpc-js
// calls node:http2's createServer/createSecureServer when it binds, which are wrapped to
// advertise a larger per-stream window and to enlarge each session's connection window.
// Memory stays bounded: at most `connectionBytes` unread per agent connection.
import { createRequire } from 'node:module';
import type * as Http2 from 'node:http2';

// The module object grpc-js gets from require('http2') (an ESM namespace import is read-only).
const http2 = createRequire(import.meta.url)('node:http2') as typeof Http2;
// The setting lives on that module object, not in this module: node:http2 is one per process,
// while this module may be loaded more than once (jest gives each test file its own copy), and
// a second pair of wrappers would let the first one's window win.
const STATE = Symbol.for('retrace.receiveWindow');
type Raised = { streamBytes: number; connectionBytes: number };
const holder = http2 as unknown as { [STATE]?: Raised };

export class ReceiveWindowError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReceiveWindowError';
  }
}

export function raiseServerReceiveWindow(streamBytes = 4 << 20, connectionBytes = 16 << 20): void {
  for (const [name, v] of [
    ['streamBytes', streamBytes],
    ['connectionBytes', connectionBytes],
  ] as const)
    if (!Number.isInteger(v) || v < 65_535 || v > 2 ** 31 - 1)
      throw new ReceiveWindowError(`${name} must be a whole number of bytes from 65535 to 2^31-1, got ${v}`);
  const first = holder[STATE] === undefined;
  holder[STATE] = { streamBytes, connectionBytes };
  if (!first) return; // the wrappers read the setting when a server is made
  const wrap = <F extends typeof http2.createServer | typeof http2.createSecureServer>(make: F): F =>
    ((options: Http2.ServerOptions, ...rest: unknown[]) => {
      const w = holder[STATE] as Raised;
      const server = (make as (...a: unknown[]) => Http2.Http2Server)(
        { ...options, settings: { initialWindowSize: w.streamBytes, ...options?.settings } },
        ...rest,
      );
      server.on('session', (session: Http2.ServerHttp2Session) => {
        // Before any frame: raises the connection window with a WINDOW_UPDATE.
        session.setLocalWindowSize(w.connectionBytes);
      });
      return server;
    }) as F;
  http2.createServer = wrap(http2.createServer);
  http2.createSecureServer = wrap(http2.createSecureServer);
}
