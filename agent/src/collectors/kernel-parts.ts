// Whether a part of the kernel a collector reads is there: its module is loaded, or it is built
// in (a struct of it is in vmlinux BTF).
import { existsSync } from 'node:fs';
import { KernelBtf } from '@retrace/ebpf-loader';

export function inKernel(module: string, struct: string): boolean {
  if (existsSync(`/sys/kernel/btf/${module}`)) return true;
  try {
    return KernelBtf.vmlinux().structLayout(struct) !== undefined;
  } catch {
    return false;
  }
}
