// gRPC service definitions for @grpc/grpc-js, made from the services of the descriptor generated
// from proto/ and the binary codec: one schema, no second hand-kept copy of the services.
import type { ServiceDefinition } from '@grpc/grpc-js';
import { decodeMessage, encodeMessage, serviceMethods, type DecodeOptions, type MethodSpec } from '@retrace/events';

/** Fields left encoded when the server reads them: the aggregator stores events as they came. */
const SERVER_RAW: DecodeOptions = { raw: new Set(['EventBatch.events']) };

function service(methods: readonly MethodSpec[], serverDecode: DecodeOptions = {}): ServiceDefinition {
  const def: Record<string, ServiceDefinition[string]> = {};
  for (const m of methods) {
    def[m.name] = {
      path: m.path,
      requestStream: m.requestStream,
      responseStream: m.responseStream,
      // A message already encoded (the agent's batches: encoded once, resent as they are) goes as is.
      requestSerialize: (v: object) => (Buffer.isBuffer(v) ? v : encodeMessage(m.request, v)),
      requestDeserialize: (b: Buffer) => decodeMessage(m.request, b, serverDecode),
      responseSerialize: (v: object) => encodeMessage(m.response, v),
      responseDeserialize: (b: Buffer) => decodeMessage(m.response, b),
      originalName: m.name,
    };
  }
  return def;
}

/** retrace.v1.AgentLink: the server side reads EventBatch.events as encoded Event bytes. */
export const AgentLinkService = service(serviceMethods('AgentLink'), SERVER_RAW);
/** retrace.v1.Query. */
export const QueryService = service(serviceMethods('Query'));
/** retrace.v1.Control: retrace-operator driving a separate aggregator. */
export const ControlService = service(serviceMethods('Control'));

/** The protocol version this build speaks (Register.protocol / Welcome.protocol). */
export const PROTOCOL_VERSION = 1;
