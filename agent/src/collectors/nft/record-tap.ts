// What the nft collector takes from the ring buffer, before records are decoded: its own trace
// message records (consumed), and the fingerprint, time and tracking id of every followed
// packet (for the matcher). Offsets come from the object's BTF like every other reader's.
import { RecordError } from '../../decode/record-header.js';
import { Sec, baseRecordSize, partPlace, type RecordLayouts } from '../../decode/layout.js';
import { fingerprintFromEthernet } from '../../nft/fingerprint.js';
import type { NftCollector } from './nft-collector.js';

/** Returns true when the record was an nft trace message (no event of its own). */
export type NftRecordTap = (view: DataView, buf: Buffer, at: number, len: number) => boolean;

export function nftRecordTap(layouts: RecordLayouts, nft: NftCollector): NftRecordTap {
  const { event } = layouts;
  const msg = layouts.struct('retrace_nft_msg');
  // nft's own records: SEC_OWN_RECORD with nft's part bit (bpf/collectors/nft.progs.bpf.h).
  const OWN = Sec.OWN_RECORD | partPlace(layouts, 'nft').bit;
  const o = (n: string): number => event.fields[n]?.offset ?? 0;
  const [present, ts, cpu, netns, head, trackTs, skb, cap, packet] = [
    'present',
    'timestamp',
    'cpu',
    'netns_inum',
    'orig_head',
    'track_ts',
    'skb',
    'capture_len',
    'packet',
  ].map(o) as [number, number, number, number, number, number, number, number, number];
  const packetMax = event.fields['packet']?.size ?? 0;
  const base = baseRecordSize(layouts);
  const NOTE = Sec.TRACKING | Sec.PACKET | Sec.NETNS;
  return (view, buf, at, len) => {
    if (len < present + 4) return false; // the decoder reports it
    const bits = view.getUint32(at + present, true);
    if ((bits & OWN) === OWN) {
      if (len < msg.size) throw new RecordError(`truncated nft trace record: ${len} bytes, it needs ${msg.size}`);
      nft.onKernelMessage(view, buf, at, msg);
      return true;
    }
    if ((bits & NOTE) !== NOTE || len < base) return false;
    const p = at + packet;
    const fp = fingerprintFromEthernet(buf.subarray(p, p + Math.min(view.getUint32(at + cap, true), packetMax)));
    if (fp)
      nft.notePacket({
        ts: view.getBigUint64(at + ts, true),
        cpu: view.getUint32(at + cpu, true),
        netns: view.getUint32(at + netns, true),
        tracking: {
          orig_head: view.getBigUint64(at + head, true),
          timestamp: view.getBigUint64(at + trackTs, true),
          skb: view.getBigUint64(at + skb, true),
        },
        fingerprint: fp,
      });
    return false;
  };
}
