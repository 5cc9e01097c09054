// The record layout, read from the BTF of the very object that writes the records: the C struct
// is the one source; a field the decoder needs but the object lacks is an error at start.
import { KernelBtf, bpfObjectPath, type StructLayout } from '@retrace/ebpf-loader';
import type { CtDecoder } from './ct.js';
import type { NftDecoder } from './nft.js';
import type { OvsDecoder } from './ovs.js';

/** Decoders of a record's optional parts, for the collectors that run. */
export interface RecordParts {
  ct?: CtDecoder;
  /** Records of the __nft_trace_packet kprobe. */
  nft?: NftDecoder;
  ovs?: OvsDecoder;
}

export const EVENT_VERSION = 1;

/** Section bits of retrace_event.present (bpf/include/event.h, enum retrace_section). */
export const Sec = {
  TRACKING: 1 << 0,
  DROP: 1 << 1,
  DEV: 1 << 2,
  NETNS: 1 << 3,
  SKB: 1 << 4,
  PACKET: 1 << 5,
  STACK: 1 << 6,
  DROP_NO_REASON: 1 << 7,
  FAKE_ETH: 1 << 8,
  VLAN: 1 << 9,
  RX_IFINDEX: 1 << 10,
  NETNS_COOKIE: 1 << 11,
  USERSPACE: 1 << 12,
  CT: 1 << 13,
  CT_PARENT: 1 << 14,
  NFT_MSG: 1 << 15,
  NFT: 1 << 16,
  OVS: 1 << 17,
} as const;

/** Probe flags of probe_config.flags (enum retrace_probe_flags). */
export const ProbeFlag = { STACK: 1, FREE: 2, NO_CREATE: 4, SILENT: 8, DROP: 16, FREE_HEAD: 32 } as const;

export class LayoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LayoutError';
  }
}

const REQUIRED = [
  'version',
  'size',
  'probe_id',
  'present',
  'cpu',
  'timestamp',
  'pid',
  'tgid',
  'comm',
  'ip',
  'skb',
  'orig_head',
  'track_ts',
  'drop_reason',
  'stack_id',
  'dev_name',
  'ifindex',
  'rx_ifindex',
  'netns_cookie',
  'netns_inum',
  'len',
  'data_len',
  'hash',
  'csum',
  'priority',
  'mark',
  'users',
  'dataref',
  'gso_type',
  'gso_size',
  'gso_segs',
  'vlan_tci',
  'vlan_proto',
  'protocol',
  'ip_summed',
  'csum_level',
  'nohdr',
  'cloned',
  'fclone',
  'nr_frags',
  'pkt_len',
  'capture_len',
  'packet',
  'ct',
  'nft',
  'ovs',
];

export interface RecordLayouts {
  event: StructLayout;
  probeConfig: StructLayout;
  counters: StructLayout;
  ct: StructLayout;
  ctConn: StructLayout;
  ctTuple: StructLayout;
  nftMsg: StructLayout;
  nft: StructLayout;
  ovs: StructLayout;
}

/** Records end before the ct part unless the ct collector runs: the size every record has. */
export function baseRecordSize(event: StructLayout): number {
  return event.fields['ct']?.offset ?? event.size;
}

/** Where each optional part ends: a record that has the part is at least that long. */
export function partEnds(event: StructLayout): { ct: number; nft: number; ovs: number } {
  return {
    ct: event.fields['nft']?.offset ?? event.size,
    nft: event.fields['ovs']?.offset ?? event.size,
    ovs: event.size,
  };
}

export function loadLayouts(objectPath = bpfObjectPath('probe')): RecordLayouts {
  const btf = KernelBtf.file(objectPath);
  try {
    const get = (name: string): StructLayout => {
      const l = btf.structLayout(name);
      if (!l) throw new LayoutError(`struct ${name} is missing from ${objectPath}; rebuild with make build`);
      return l;
    };
    const event = get('retrace_event');
    const missing = REQUIRED.filter((f) => !event.fields[f]);
    if (missing.length)
      throw new LayoutError(
        `struct retrace_event in ${objectPath} lacks ${missing.join(', ')}: decoder and BPF differ`,
      );
    return {
      event,
      probeConfig: get('probe_config'),
      counters: get('probe_counters'),
      ct: get('retrace_ct'),
      ctConn: get('retrace_ct_conn'),
      ctTuple: get('retrace_ct_tuple'),
      nftMsg: get('retrace_nft_msg'),
      nft: get('retrace_nft'),
      ovs: get('retrace_ovs'),
    };
  } finally {
    btf.close();
  }
}
