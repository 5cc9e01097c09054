// gRPC service definitions for @grpc/grpc-js, made from the services of the descriptor generated
// from proto/ and the binary codec: one schema, no second hand-kept copy of the services.
import type { ServiceDefinition } from '@grpc/grpc-js';
import { decodeMessage, encodeMessage, serviceMethods, type MethodSpec } from '@retrace/events';
import { readAgentMessage } from './agent-message-read.js';

/**
 * `serverRead`: how the server reads requests of a message type (else the generated decode). The
 * aggregator reads an agent's batches with their events left encoded: it stores them as they came.
 */
function service(
  methods: readonly MethodSpec[],
  serverRead: Record<string, (b: Buffer) => object> = {},
): ServiceDefinition {
  const def: Record<string, ServiceDefinition[string]> = {};
  for (const m of methods) {
    def[m.name] = {
      path: m.path,
      requestStream: m.requestStream,
      responseStream: m.responseStream,
      // A message already encoded (the agent's batches: encoded once, resent as they are) goes as is.
      requestSerialize: (v: object) => (Buffer.isBuffer(v) ? v : encodeMessage(m.request, v)),
      requestDeserialize: serverRead[m.request] ?? ((b: Buffer) => decodeMessage(m.request, b)),
      responseSerialize: (v: object) => encodeMessage(m.response, v),
      responseDeserialize: (b: Buffer) => decodeMessage(m.response, b),
      originalName: m.name,
    };
  }
  return def;
}

/** retrace.v1.AgentLink: the server side reads EventBatch.events as encoded Event bytes. */
export const AgentLinkService = service(serviceMethods('AgentLink'), { AgentMessage: readAgentMessage });
/** retrace.v1.Query. */
export const QueryService = service(serviceMethods('Query'));
/** retrace.v1.Control: retrace-operator driving a separate aggregator. */
export const ControlService = service(serviceMethods('Control'));

/** The protocol version this build speaks (Register.protocol / Welcome.protocol). */
export const PROTOCOL_VERSION = 1;
