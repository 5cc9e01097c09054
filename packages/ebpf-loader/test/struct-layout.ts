// Test helper: the layout of a record struct from the object's own BTF, so the decoder and the
// C struct cannot drift apart.
import { KernelBtf, type StructLayout } from '@retrace/ebpf-loader';

export function structLayout(objectPath: string, struct: string): StructLayout {
  const btf = KernelBtf.file(objectPath);
  try {
    const layout = btf.structLayout(struct);
    if (!layout) throw new Error(`struct ${struct} is not in the BTF of ${objectPath}`);
    return layout;
  } finally {
    btf.close();
  }
}
