// What every reader of a ring buffer record checks first, and the helpers both readers share
// (the Event decoder and the direct JSON writer).
import type { StructLayout } from '@retrace/ebpf-loader';
import { EVENT_VERSION } from './layout.js';
import type { Field } from './json-template.js';

export class RecordError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecordError';
  }
}

/** Field name -> byte offset, from the layout read in the object's BTF. */
export function recordOffsets(layout: StructLayout): Record<string, number> {
  return Object.fromEntries(Object.entries(layout.fields).map(([k, f]) => [k, f.offset]));
}

/** Offsets of the fields a reader needs; a missing one means the decoder and the BPF object differ. */
export function requireOffsets(layout: StructLayout, names: readonly string[]): Record<string, number> {
  const o = recordOffsets(layout);
  const missing = names.filter((n) => o[n] === undefined);
  if (missing.length)
    throw new RecordError(`struct ${layout.name} lacks ${missing.join(', ')}: decoder and BPF differ (make build)`);
  return o;
}

/** Fields a reader needs, with their sizes (for templates); a missing one is an error, as above. */
export function requireFields<N extends string>(layout: StructLayout, names: readonly N[]): Record<N, Field> {
  requireOffsets(layout, names);
  return Object.fromEntries(
    names.map((n) => [n, { off: layout.fields[n]?.offset ?? 0, size: layout.fields[n]?.size ?? 0 }]),
  ) as Record<N, Field>;
}

/** A record that says it has a ct, nft or ovs part must have room for it. */
export function checkPartRoom(len: number, size: number, part: string): void {
  if (len < size) throw new RecordError(`truncated record: ${len} bytes, but its ${part} part needs ${size}`);
}

/** A NUL-terminated string of at most `max` bytes. */
export function cstr(buf: Buffer, start: number, max: number): string {
  let end = start;
  while (end < start + max && buf[end] !== 0) end++;
  return buf.toString('utf8', start, end);
}

/**
 * Refuses truncated records, records of another layout version and records of probes this
 * session did not set up; returns the probe id.
 */
export function checkRecord(
  view: DataView,
  at: number,
  len: number,
  layout: { size: number; version: number; probeId: number },
  probeCount: number,
): number {
  if (len < layout.size)
    throw new RecordError(`truncated record: ${len} bytes, a version ${EVENT_VERSION} record has ${layout.size}`);
  const version = view.getUint16(at + layout.version, true);
  if (version !== EVENT_VERSION)
    throw new RecordError(
      `record version ${version}, this retrace decodes version ${EVENT_VERSION}: BPF objects and retrace differ (make build)`,
    );
  const probeId = view.getUint32(at + layout.probeId, true);
  if (probeId >= probeCount) throw new RecordError(`record from unknown probe id ${probeId}`);
  return probeId;
}
