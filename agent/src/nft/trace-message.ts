// nftables trace messages (NFT_MSG_TRACE, what `nft monitor trace` prints) -> NftTrace. The
// attribute numbers are the kernel's UAPI (linux/netfilter/nf_tables.h).
import { netlinkAttributes, netlinkMessages } from '@retrace/ebpf-loader';

const NFNL_SUBSYS_NFTABLES = 10;
const NFT_MSG_TRACE = 17;

const A = {
  TABLE: 1,
  CHAIN: 2,
  RULE_HANDLE: 3,
  TYPE: 4,
  VERDICT: 5,
  ID: 6,
  LL_HEADER: 7,
  NETWORK_HEADER: 8,
  TRANSPORT_HEADER: 9,
  IIF: 10,
  OIF: 12,
  MARK: 14,
  NFPROTO: 15,
  POLICY: 16,
} as const;
const VERDICT_CODE = 1;
const VERDICT_CHAIN = 2;
const TRACETYPE = { POLICY: 1, RETURN: 2, RULE: 3 } as const;

/** NFPROTO_* -> the family name nft uses. */
export const FAMILIES: Record<number, string> = { 1: 'inet', 2: 'ip', 3: 'arp', 5: 'netdev', 7: 'bridge', 10: 'ip6' };
const NF_VERDICTS = ['drop', 'accept', 'stolen', 'queue', 'repeat', 'stop'];
const NFT_VERDICTS: Record<number, string> = {
  [-1]: 'continue',
  [-2]: 'break',
  [-3]: 'jump',
  [-4]: 'goto',
  [-5]: 'return',
};

export interface NftTrace {
  family: string;
  table: string;
  chain: string;
  ruleHandle?: bigint;
  verdict: string;
  verdictChain?: string;
  policy: boolean;
  /** Same for every message of one packet's pass through one hook. */
  id: number;
  iif?: number;
  oif?: number;
  mark?: number;
  /** Packet headers: only in the first message of a pass (the kernel sends them once). */
  network?: Buffer;
  transport?: Buffer;
}

/** A verdict code (NF_* >= 0 with an errno in the upper bits for drops; NFT_* < 0) as a name. */
export function verdictName(code: number): string {
  if (code < 0) return NFT_VERDICTS[code] ?? `verdict ${code}`;
  return NF_VERDICTS[code & 0xff] ?? `verdict ${code & 0xff}`;
}

const str = (b: Buffer | undefined): string => (b ? b.toString('utf8').replace(/\0.*$/s, '') : '');

/** The trace messages of one datagram (other messages are ignored). */
export function parseTraceDatagram(datagram: Buffer): NftTrace[] {
  const out: NftTrace[] = [];
  for (const m of netlinkMessages(datagram)) {
    if (m.type !== ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_TRACE) || m.payload.length < 4) continue;
    const t = parseTracePayload(m.payload);
    if (t) out.push(t);
  }
  return out;
}

/** One trace message's payload (after the netlink header): nfgenmsg, then attributes. */
export function parseTracePayload(payload: Buffer): NftTrace | undefined {
  const family = payload.readUInt8(0);
  const a = netlinkAttributes(payload.subarray(4));
  const type = a.get(A.TYPE)?.readUInt32BE(0);
  if (type === undefined) return undefined;
  const t: NftTrace = {
    family: FAMILIES[family] ?? String(family),
    table: str(a.get(A.TABLE)),
    chain: str(a.get(A.CHAIN)),
    verdict: 'continue',
    policy: type === TRACETYPE.POLICY,
    id: a.get(A.ID)?.readUInt32BE(0) ?? 0,
  };
  const handle = a.get(A.RULE_HANDLE);
  if (handle && handle.length >= 8) t.ruleHandle = handle.readBigUInt64BE(0);
  const verdict = a.get(A.VERDICT);
  if (type === TRACETYPE.POLICY) {
    const p = a.get(A.POLICY);
    if (p) t.verdict = verdictName(p.readInt32BE(0));
  } else if (verdict) {
    const v = netlinkAttributes(verdict);
    const code = v.get(VERDICT_CODE);
    if (code) t.verdict = verdictName(code.readInt32BE(0));
    const chain = v.get(VERDICT_CHAIN);
    if (chain) t.verdictChain = str(chain);
  } else if (type === TRACETYPE.RETURN) {
    t.verdict = 'return';
  }
  const u32 = (k: number): number | undefined => a.get(k)?.readUInt32BE(0);
  const iif = u32(A.IIF);
  const oif = u32(A.OIF);
  const mark = u32(A.MARK);
  if (iif !== undefined) t.iif = iif;
  if (oif !== undefined) t.oif = oif;
  if (mark !== undefined) t.mark = mark;
  const nh = a.get(A.NETWORK_HEADER);
  const th = a.get(A.TRANSPORT_HEADER);
  if (nh) t.network = nh;
  if (th) t.transport = th;
  return t;
}
