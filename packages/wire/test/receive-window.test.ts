// The aggregator's gRPC server lets agents send more than HTTP/2's default 64 KiB before it must
// answer with a WINDOW_UPDATE: a plain HTTP/2 client sees the larger windows advertised.
import { jest } from '@jest/globals';
import { connect, type ClientHttp2Session } from 'node:http2';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { raiseServerReceiveWindow, ReceiveWindowError } from '../src/index.js';

test('servers made after raising advertise the stream window and open the connection window', async () => {
  // Another copy of the module (as another test file in the same jest worker has) raised first,
  // to the defaults: the last setting made in the process is the one servers get.
  await jest.isolateModulesAsync(async () => {
    const other = await import('../src/receive-window.js');
    other.raiseServerReceiveWindow();
  });
  raiseServerReceiveWindow(1 << 20, 3 << 20);
  const server = new Server();
  const port = await new Promise<number>((res, rej) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
  );
  const client: ClientHttp2Session = connect(`http://127.0.0.1:${port}`);
  client.on('error', () => undefined); // the server's GOAWAY at shutdown
  try {
    const settings = await new Promise<{ initialWindowSize?: number }>((res) => client.once('remoteSettings', res));
    expect(settings.initialWindowSize).toBe(1 << 20);
    // The connection window grows by a WINDOW_UPDATE right after the settings.
    for (let i = 0; i < 100 && (client.state.remoteWindowSize ?? 0) < 3 << 20; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(client.state.remoteWindowSize).toBe(3 << 20);
  } finally {
    client.close();
    server.forceShutdown();
  }
});

test('a window outside what HTTP/2 allows is refused with the bounds', () => {
  expect(() => raiseServerReceiveWindow(1000)).toThrow(ReceiveWindowError);
  expect(() => raiseServerReceiveWindow(1 << 20, 2 ** 31)).toThrow(/connectionBytes must be .* 65535 to 2\^31-1/);
});
