// @kubernetes/client-node 2.x bundles undici 8, which needs Node >= 22.19; this repository runs
// Node 20. The Node 22 APIs undici touches are filled in here, before client-node loads, so the
// tests can drive the real client. Import this module first. (zstd responses stay unsupported.)
import { addAbortListener } from 'node:events';
import workerThreads from 'node:worker_threads';
import zlib from 'node:zlib';

const z = zlib as { createZstdDecompress?: () => never };
z.createZstdDecompress ??= () => {
  throw new Error('zstd decompression needs Node 22');
};
(workerThreads as { markAsUncloneable?: (o: object) => void }).markAsUncloneable ??= () => {};

const P = Promise as unknown as { withResolvers?: unknown };
P.withResolvers ??= function withResolvers<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
};

// Jest's module context has its own Symbol without Node's Symbol.dispose, which undici uses to
// read the disposer that events.addAbortListener returns.
if (!('dispose' in Symbol)) {
  const disposable = addAbortListener(new AbortController().signal, () => {});
  const [dispose] = Object.getOwnPropertySymbols(disposable);
  Object.defineProperty(Symbol, 'dispose', { value: dispose });
}
