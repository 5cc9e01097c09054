import type { StructLayout } from './btf.js';

export class RecordLayoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecordLayoutError';
  }
}

/**
 * Reads one field of a little-endian record using a layout taken from BTF: 1, 2 and 4-byte
 * fields as numbers, 8-byte fields as bigints.
 */
export function readField(layout: StructLayout, rec: Buffer, field: string): number | bigint {
  const f = layout.fields[field];
  if (!f) throw new RecordLayoutError(`struct ${layout.name} has no field '${field}'`);
  if (f.offset + f.size > rec.length)
    throw new RecordLayoutError(
      `record of ${rec.length} bytes is too short for ${layout.name}.${field} (needs ${f.offset + f.size}); truncated record?`,
    );
  switch (f.size) {
    case 1:
      return rec.readUInt8(f.offset);
    case 2:
      return rec.readUInt16LE(f.offset);
    case 4:
      return rec.readUInt32LE(f.offset);
    case 8:
      return rec.readBigUInt64LE(f.offset);
    default:
      throw new RecordLayoutError(`${layout.name}.${field} is ${f.size} bytes: read it as bytes`);
  }
}

/**
 * Every scalar field of a record as a number, read now (ring buffer records are only valid
 * during their callback). 8-byte fields are converted with Number(); array fields are skipped.
 */
export function decodeRecord(layout: StructLayout, rec: Buffer): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, f] of Object.entries(layout.fields))
    if (f.size === 1 || f.size === 2 || f.size === 4 || f.size === 8) out[name] = Number(readField(layout, rec, name));
  return out;
}
