// Test helper: read a record's field offsets from the object's own BTF, so the decoder and
// the C struct cannot drift apart.
import { BtfKind, KernelBtf } from '@retrace/ebpf-loader';

export type Layout = Record<string, { offset: number; size: number }>;

export function structLayout(objectPath: string, struct: string): { size: number; fields: Layout } {
  const btf = KernelBtf.file(objectPath);
  try {
    const id = btf.find(struct, BtfKind.STRUCT);
    if (id === undefined) throw new Error(`struct ${struct} not in ${objectPath}`);
    const t = btf.type(id);
    const fields: Layout = {};
    for (const m of t.members ?? []) fields[m.name] = { offset: m.bitOffset / 8, size: btf.resolveSize(m.type) };
    return { size: t.size ?? 0, fields };
  } finally {
    btf.close();
  }
}

export function reader(layout: Layout, rec: Buffer): (field: string) => number {
  return (field) => {
    const f = layout[field];
    if (!f) throw new Error(`no field ${field}`);
    switch (f.size) {
      case 1:
        return rec.readUInt8(f.offset);
      case 2:
        return rec.readUInt16LE(f.offset);
      case 4:
        return rec.readUInt32LE(f.offset);
      case 8:
        return Number(rec.readBigInt64LE(f.offset));
      default:
        throw new Error(`field ${field} has size ${f.size}`);
    }
  };
}
