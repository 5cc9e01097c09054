// Drop reason names from the kernel's BTF: the core enum skb_drop_reason, and subsystem enums
// (e.g. ovs_drop_reason, mac80211_drop_reason) whose values carry the subsystem in the high bits.
import { BtfKind, KernelBtf } from '@retrace/ebpf-loader';

const SUBSYS_SHIFT = 16;

export interface DropReason {
  reason: string;
  subsys?: string;
}

export class DropReasons {
  private readonly core = new Map<number, string>();
  private readonly subsysNames = new Map<number, string>();
  private readonly subsysReasons = new Map<number, string>();

  constructor(btfs: KernelBtf[] = [KernelBtf.vmlinux()]) {
    for (const btf of btfs) {
      for (const [name, v] of btf.enumValues('skb_drop_reason') ?? [])
        this.core.set(Number(v), name.replace(/^SKB_DROP_REASON_/, '').replace(/^SKB_/, ''));
      for (const [name, v] of btf.enumValues('skb_drop_reason_subsys') ?? [])
        this.subsysNames.set(Number(v), name.replace(/^SKB_DROP_REASON_SUBSYS_/, '').toLowerCase());
      for (const enumName of btf.names(BtfKind.ENUM)) {
        if (!/_drop_reason$/.test(enumName) || enumName === 'skb_drop_reason') continue;
        for (const [name, v] of btf.enumValues(enumName) ?? [])
          if (Number(v) >> SUBSYS_SHIFT) this.subsysReasons.set(Number(v), name);
      }
    }
  }

  /** Whether this kernel has drop reasons at all (5.17+). */
  get available(): boolean {
    return this.core.size > 0;
  }

  name(value: number): DropReason {
    const subsys = value >>> SUBSYS_SHIFT;
    if (subsys === 0) return { reason: this.core.get(value) ?? `UNKNOWN_${value}` };
    const subsysName = this.subsysNames.get(subsys) ?? `subsys_${subsys}`;
    return { reason: this.subsysReasons.get(value) ?? `UNKNOWN_${value & 0xffff}`, subsys: subsysName };
  }
}
