// Netlink sockets in any network namespace (Node has no AF_NETLINK): datagrams are delivered on
// the event loop as they arrive.
import { native, type NativeNetlinkSocket } from './native.js';

export const NETLINK_NETFILTER = 12;
/** nfnetlink multicast group of nftables trace messages (NFNLGRP_NFTRACE). */
export const NFNLGRP_NFTRACE = 9;

export type DatagramHandler = (datagrams: Buffer[], overruns: number) => void;

export class NetlinkSocket {
  private s: NativeNetlinkSocket | undefined;

  /**
   * @param netns path of a network namespace (/run/netns/NAME, /proc/PID/ns/net), '' for ours
   * @param onDatagrams datagrams read since the last call, and how many the kernel dropped
   *   because the queue was full (ENOBUFS)
   */
  constructor(netns: string, protocol: number, groups: number[], onDatagrams: DatagramHandler) {
    this.s = new native.NetlinkSocket(netns, protocol, groups, onDatagrams);
  }

  /** Starts delivering datagrams on the event loop. */
  start(): void {
    this.live().start();
  }

  /** Delivers what is queued now, synchronously. */
  read(): void {
    this.s?.read();
  }

  /** SO_COOKIE: identifies this socket to BPF programs. */
  cookie(): bigint {
    return this.live().cookie();
  }

  close(): void {
    this.s?.close();
    this.s = undefined;
  }

  private live(): NativeNetlinkSocket {
    if (!this.s) throw new Error('netlink socket is closed');
    return this.s;
  }
}

/** One netlink message in a datagram. */
export interface NetlinkMessage {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  /** The payload after the 16-byte header. */
  payload: Buffer;
}

/** Splits a datagram into its messages (NLMSG_ALIGN'ed); a truncated tail is left out. */
export function netlinkMessages(datagram: Buffer): NetlinkMessage[] {
  const out: NetlinkMessage[] = [];
  let off = 0;
  while (off + 16 <= datagram.length) {
    const len = datagram.readUInt32LE(off);
    if (len < 16 || off + len > datagram.length) break;
    out.push({
      type: datagram.readUInt16LE(off + 4),
      flags: datagram.readUInt16LE(off + 6),
      seq: datagram.readUInt32LE(off + 8),
      pid: datagram.readUInt32LE(off + 12),
      payload: datagram.subarray(off + 16, off + len),
    });
    off += (len + 3) & ~3;
  }
  return out;
}

/** Attributes (type without the NESTED/BYTEORDER flags -> value) of a TLV area. */
export function netlinkAttributes(area: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  let off = 0;
  while (off + 4 <= area.length) {
    const len = area.readUInt16LE(off);
    if (len < 4 || off + len > area.length) break;
    out.set(area.readUInt16LE(off + 2) & 0x3fff, area.subarray(off + 4, off + len));
    off += (len + 3) & ~3;
  }
  return out;
}
