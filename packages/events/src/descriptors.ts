// The schema as code reads it: every message's fields and every service's methods, taken from
// protobufjs's JSON descriptor generated from proto/ (gen/descriptor.ts). The JSON codec, the
// JSON Schema, the binary codec's adaptation to the model and the aggregator's partial reads all
// walk this view, so none keeps a copy of the schema of its own.
import type { IField, IType } from 'protobufjs';
import { DESCRIPTOR, type ProtoFile } from './gen/descriptor.js';

/** How a field is held in the event model (and which protobuf wire type carries it). */
export type FieldKind = 'u64' | 'i64' | 'u32' | 'i32' | 'string' | 'bool' | 'bytes' | 'raw' | 'double' | 'message';

export interface FieldSpec {
  /** protobuf field number */
  id: number;
  /** The model's key: json_name when the schema gives one (skb-tracking), else the field's name. */
  json: string;
  /** bytes are base64 text in events (their JSON shape), binary ('raw') in the protocol. */
  kind: FieldKind;
  /** A message field's message. */
  message?: string;
  repeated: boolean;
  /** May be absent: sections (message fields), proto3 optionals, repeated and oneof fields. */
  optional: boolean;
}

export class SchemaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SchemaError';
  }
}

const SCALAR: Record<string, FieldKind> = {
  uint64: 'u64',
  int64: 'i64',
  uint32: 'u32',
  int32: 'i32',
  string: 'string',
  bool: 'bool',
  bytes: 'bytes',
  double: 'double',
};

/** The protobuf wire type of each kind. */
export const WIRE_TYPE: Record<FieldKind, number> = {
  u64: 0,
  i64: 0,
  u32: 0,
  i32: 0,
  bool: 0,
  string: 2,
  bytes: 2,
  raw: 2,
  message: 2,
  double: 1,
};

const fileOfMessage = new Map<string, ProtoFile>();
for (const [file, d] of Object.entries(DESCRIPTOR) as [ProtoFile, (typeof DESCRIPTOR)[ProtoFile]][])
  for (const name of Object.keys(d.messages)) fileOfMessage.set(name, file);

function typeOf(name: string): IType {
  const file = fileOfMessage.get(name);
  const t = file === undefined ? undefined : DESCRIPTOR[file].messages[name];
  if (t === undefined) throw new SchemaError(`unknown protobuf message ${name}`);
  return t;
}

function fieldSpec(file: ProtoFile, t: IType, name: string, f: IField): FieldSpec {
  const scalar = SCALAR[f.type];
  if (scalar === undefined && !fileOfMessage.has(f.type))
    throw new SchemaError(`field ${name} has type ${f.type}, which the event model does not hold`);
  const kind: FieldKind = scalar === undefined ? 'message' : scalar === 'bytes' && file !== 'event' ? 'raw' : scalar;
  const repeated = f.rule === 'repeated';
  const inOneof = Object.values(t.oneofs ?? {}).some((o) => o.oneof.includes(name));
  return {
    id: f.id,
    json: (f.options?.['json_name'] as string | undefined) ?? name,
    kind,
    ...(kind === 'message' ? { message: f.type } : {}),
    repeated,
    optional: kind === 'message' || repeated || inOneof || f.options?.['proto3_optional'] === true,
  };
}

const tables = new Map<string, FieldSpec[]>();

/** The fields of message `name`, in proto order. */
export function messageFields(name: string): FieldSpec[] {
  let specs = tables.get(name);
  if (specs === undefined) {
    const t = typeOf(name);
    const file = fileOfMessage.get(name) as ProtoFile;
    specs = Object.entries(t.fields).map(([field, f]) => fieldSpec(file, t, field, f));
    tables.set(name, specs);
  }
  return specs;
}

/** The messages of one .proto file, in proto order. */
export function fileMessages(file: ProtoFile): string[] {
  return Object.keys(DESCRIPTOR[file].messages);
}

/** The .proto file that declares message `name`. */
export function messageFile(name: string): ProtoFile {
  typeOf(name);
  return fileOfMessage.get(name) as ProtoFile;
}

/** The field number of `message.json` (json as the model names it), for readers that scan bytes. */
export function fieldNumber(message: string, json: string): number {
  const f = messageFields(message).find((s) => s.json === json);
  if (!f) throw new SchemaError(`protobuf message ${message} has no field ${json}`);
  return f.id;
}

function fileTable(file: ProtoFile): Record<string, FieldSpec[]> {
  return Object.fromEntries(fileMessages(file).map((m) => [m, messageFields(m)]));
}

/** Every message's fields by file, in proto order. */
export const FIELDS = fileTable('event');
export const AGENT_FIELDS = fileTable('agent');
export const QUERY_FIELDS = fileTable('query');
export const CONTROL_FIELDS = fileTable('control');

export interface MethodSpec {
  name: string;
  /** The gRPC path: /retrace.v1.Service/Method. */
  path: string;
  request: string;
  response: string;
  requestStream: boolean;
  responseStream: boolean;
}

/** The methods of gRPC service `name` (retrace.v1.NAME). */
export function serviceMethods(name: string): MethodSpec[] {
  for (const d of Object.values(DESCRIPTOR)) {
    const svc = d.services[name];
    if (svc === undefined) continue;
    return Object.entries(svc.methods).map(([method, m]) => ({
      name: method,
      path: `/retrace.v1.${name}/${method}`,
      request: m.requestType,
      response: m.responseType,
      requestStream: m.requestStream === true,
      responseStream: m.responseStream === true,
    }));
  }
  throw new SchemaError(`unknown gRPC service ${name}`);
}
