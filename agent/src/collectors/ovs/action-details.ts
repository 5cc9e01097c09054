// An executed action's details as retis writes them (retis-events' OvsAction): the output port,
// the recirc action's `id`, the drop action's `reason`, the ct action's `flags` (retis's
// R_OVS_CT_* bits), `zone_id` and `nat`. The BPF side is bpf/collectors/ovs/actions.bpf.h.
import type { Ovs, OvsCtNat } from '@retrace/events';
import { formatIpv4, formatIpv6 } from '@retrace/events';
import { RetraceOvsFlags as F } from '../../gen/probe-skeleton.js';

/** retis's ct action flag bits. */
export const OvsCt = {
  COMMIT: 1 << 0,
  FORCE: 1 << 1,
  IP4: 1 << 2,
  IP6: 1 << 3,
  NAT: 1 << 4,
  NAT_SRC: 1 << 5,
  NAT_DST: 1 << 6,
  RANGE_MAP_IPS: 1 << 7,
  RANGE_PROTO_SPECIFIED: 1 << 8,
  RANGE_PROTO_RANDOM: 1 << 9,
  RANGE_PERSISTENT: 1 << 10,
  RANGE_PROTO_RANDOM_FULLY: 1 << 11,
} as const;

/**
 * The action's name as retis writes it: the kernel's OVS_ACTION_ATTR_* name in lower case, the
 * kernel-private set_to_masked as set_masked (both mean the same to users).
 */
export function retisActionName(kernelName: string): string {
  return kernelName === 'set_to_masked' ? 'set_masked' : kernelName;
}

/** The fields of the part that say what an action did, read at `off(field)`. */
export interface ActionFields {
  flags: number;
  u32(name: string): number;
  u16(name: string): number;
  bytes(name: string, n: number): Buffer;
}

export function actionDetails(ev: Ovs, f: ActionFields): void {
  if (f.flags & F.PORT) ev.port = f.u32('port');
  if (f.flags & F.ACT_ARG) {
    if (ev.action === 'recirc') ev.id = f.u32('act_arg');
    else if (ev.action === 'drop') ev.reason = f.u32('act_arg');
  }
  if (!(f.flags & F.CT)) return;
  const flags = f.u32('ct_flags');
  ev.flags = flags;
  ev.zone_id = f.u16('zone_id');
  if (flags & OvsCt.NAT) ev.nat = ctNat(flags, f);
}

function ctNat(flags: number, f: ActionFields): OvsCtNat {
  const nat: OvsCtNat = {};
  if (flags & OvsCt.NAT_SRC) nat.dir = 'src';
  else if (flags & OvsCt.NAT_DST) nat.dir = 'dst';
  if (flags & OvsCt.RANGE_MAP_IPS) {
    const v6 = (flags & OvsCt.IP6) !== 0;
    const addr = (name: string): string => (v6 ? formatIpv6(f.bytes(name, 16)) : formatIpv4(f.bytes(name, 4)));
    nat.min_addr = addr('min_addr');
    nat.max_addr = addr('max_addr');
  }
  if (flags & OvsCt.RANGE_PROTO_SPECIFIED) {
    nat.min_port = f.u16('min_port');
    nat.max_port = f.u16('max_port');
  }
  return nat;
}
