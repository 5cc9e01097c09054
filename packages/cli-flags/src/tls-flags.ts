// The TLS flags every daemon takes, the same words for each: a daemon's certificate serves it as
// a server (the aggregator) or as a client (an agent, the operator driving a separate aggregator).
import { bool, text } from './kinds.js';

export const TLS_FLAGS = {
  ca: text('FILE', "the CA certificate (PEM) that signs the peers' certificates"),
  cert: text('FILE', "this program's certificate (PEM), signed by that CA"),
  key: text('FILE', "the certificate's private key (PEM)"),
  insecure: bool('no TLS at all (plain text): for local tests only'),
} as const;
