// The record's ovs part (struct retrace_ovs in bpf/collectors/ovs.bpf.h, written by the ovs
// collector's programs) -> the Ovs section, with retis's event types and field names.
import type { StructLayout } from '@retrace/ebpf-loader';
import type { Ovs } from '@retrace/events';
import { cstr, requireOffsets } from '../../decode/record-header.js';
import { RetraceOvsFlags as F, RetraceOvsType as T } from '../../gen/probe-skeleton.js';
import { actionDetails, retisActionName } from './action-details.js';
import { ufidWords } from './ufid.js';

export { formatUfid, ufidWords } from './ufid.js';

const TYPES: Record<number, string> = {
  [T.UPCALL]: 'upcall',
  [T.UPCALL_ENQUEUE]: 'upcall_enqueue',
  [T.UPCALL_RETURN]: 'upcall_return',
  [T.ACTION_EXECUTE]: 'action_execute',
  [T.RECV_UPCALL]: 'recv_upcall',
  [T.FLOW_PUT]: 'flow_operation',
  [T.FLOW_EXEC]: 'flow_operation',
  [T.FLOW_LOOKUP]: 'flow_lookup',
};
const NAME_MAX = 32;

export class OvsDecoder {
  private readonly o: Record<string, number>;

  /** `action`: OVS_ACTION_ATTR_* number -> name (from the openvswitch module's BTF). */
  constructor(
    layout: StructLayout,
    private readonly action: (n: number) => string = (n) => `action_${n}`,
  ) {
    this.o = requireOffsets(layout, [
      'type',
      'cmd',
      'flags',
      'batch_idx',
      'port',
      'cpu',
      'queue_id',
      'ret',
      'action',
      'recirc_id',
      'in_port',
      'upcall_type',
      'pkt_size',
      'key_size',
      'batch_ts',
      'upcall_ts',
      'upcall_cpu',
      'ufid',
      'dp_name',
      'flow',
      'sf_acts',
      'n_mask_hit',
      'n_cache_hit',
      'act_arg',
      'ct_flags',
      'zone_id',
      'min_port',
      'max_port',
      'min_addr',
      'max_addr',
    ]);
  }

  /** The Ovs section of a record whose ovs part starts at `at`. */
  decode(view: DataView, buf: Buffer, at: number): Ovs {
    const o = this.o;
    const off = (n: string): number => at + (o[n] as number);
    const u32 = (n: string): number => view.getUint32(off(n), true);
    const type = view.getUint8(off('type'));
    const flags = view.getUint8(off('flags'));
    const ev: Ovs = { event_type: TYPES[type] ?? `unknown_${type}` };
    const dp = cstr(buf, off('dp_name'), NAME_MAX);
    switch (type) {
      case T.UPCALL:
        ev.cmd = view.getUint8(off('cmd'));
        ev.port = u32('port');
        ev.cpu = u32('cpu');
        ev.in_port = u32('in_port');
        break;
      case T.UPCALL_ENQUEUE:
        ev.ret = view.getInt32(off('ret'), true);
        ev.cmd = view.getUint8(off('cmd'));
        ev.port = u32('port');
        break;
      case T.UPCALL_RETURN:
        ev.ret = view.getInt32(off('ret'), true);
        break;
      case T.ACTION_EXECUTE:
        ev.action = retisActionName(this.action(u32('action')));
        actionDetails(ev, {
          flags,
          u32,
          u16: (n) => view.getUint16(off(n), true),
          bytes: (n, len) => buf.subarray(off(n), off(n) + len),
        });
        ev.recirc_id = u32('recirc_id');
        ev.in_port = u32('in_port');
        break;
      case T.FLOW_LOOKUP:
        ev.flow = view.getBigUint64(off('flow'), true);
        ev.sf_acts = view.getBigUint64(off('sf_acts'), true);
        ev.ufid = flags & F.UFID ? ufidWords(buf, off('ufid')) : [0, 0, 0, 0];
        ev.n_mask_hit = u32('n_mask_hit');
        ev.n_cache_hit = u32('n_cache_hit');
        break;
      case T.RECV_UPCALL:
        ev.type = u32('upcall_type');
        ev.pkt_size = u32('pkt_size');
        ev.key_size = view.getBigUint64(off('key_size'), true);
        break;
      case T.FLOW_PUT:
      case T.FLOW_EXEC:
        ev.op_type = type === T.FLOW_PUT ? 'put' : 'exec';
        if (type === T.FLOW_EXEC) ev.pkt_size = u32('pkt_size');
        if (flags & F.UFID) ev.ufid = ufidWords(buf, off('ufid'));
        break;
    }
    if (flags & F.QUEUE_ID) ev.queue_id = u32('queue_id');
    if (flags & F.BATCH) {
      ev.batch_ts = view.getBigUint64(off('batch_ts'), true);
      ev.batch_idx = view.getUint8(off('batch_idx'));
    }
    if (flags & F.UPCALL) {
      ev.upcall_ts = view.getBigUint64(off('upcall_ts'), true);
      ev.upcall_cpu = u32('upcall_cpu');
    }
    if (dp) ev.dp_name = dp;
    return ev;
  }
}
