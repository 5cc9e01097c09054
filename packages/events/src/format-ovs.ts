// The OVS line, as retis prints its ovs section (retis-events ovs.rs), e.g. `upcall (miss) port 3
// cpu 1`, `upcall_ret (1/23868955262984) ret 0`, `[recirc_id 0x22] exec ct zone 20 nat(dst=..)
// commit`. Fields only retrace has (in_port, dp_name, a put's ufid) follow what retis prints.
import type { Ovs, OvsCtNat } from './gen/event.js';

type O = Partial<Ovs> & Record<string, unknown>;

const def = <T>(v: T | undefined | null): v is T => v !== undefined && v !== null;
const hex = (n: number | bigint): string => `0x${n.toString(16)}`;

const UPCALL_CMDS = [' (unspec)', ' (miss)', ' (action)', ' (exec)'];
const cmdText = (cmd: number | undefined): string => (def(cmd) ? (UPCALL_CMDS[cmd] ?? '') : '');

// R_OVS_CT_* flags of a ct action.
const CT_COMMIT = 1 << 0;
const CT_FORCE = 1 << 1;
const NAT_MAP_IPS = 1 << 7;
const NAT_PROTO_SPECIFIED = 1 << 8;
const NAT_PROTO_RANDOM = 1 << 9;
const NAT_PERSISTENT = 1 << 10;
const NAT_PROTO_RANDOM_FULLY = 1 << 11;

/** retis's ufid text: the four 32-bit words as a UUID. */
export function ufidText(ufid: unknown): string {
  if (!Array.isArray(ufid) || ufid.length !== 4) return String(ufid);
  const w = ufid.map((x) => Number(x) >>> 0);
  const h = (n: number, width: number): string => n.toString(16).padStart(width, '0');
  const [a = 0, b = 0, c = 0, d = 0] = w;
  return `${h(a, 8)}-${h(b >>> 16, 4)}-${h(b & 0xffff, 4)}-${h(c >>> 16, 4)}-${h(c & 0xffff, 4)}${h(d, 8)}`;
}

function range<T>(min: T | undefined, max: T | undefined): string | undefined {
  if (!def(min) || !def(max)) return undefined;
  return min === max ? String(min) : `${min}-${max}`;
}

function ctAction(o: O): string {
  const flags = o.flags ?? 0;
  let s = ` ct zone ${o.zone_id ?? 0}`;
  const nat: Partial<OvsCtNat> | undefined = o.nat;
  if (nat) {
    s += ' nat';
    if (nat.dir) {
      s += `(${nat.dir}`;
      const addrs = flags & NAT_MAP_IPS ? range(nat.min_addr, nat.max_addr) : undefined;
      if (addrs) s += `=${addrs}`;
      const ports = flags & NAT_PROTO_SPECIFIED ? range(nat.min_port, nat.max_port) : undefined;
      if (ports) s += `:${ports}`;
      s += ')';
    }
  }
  const names: [number, string][] = [
    [CT_COMMIT, 'commit'],
    [CT_FORCE, 'force'],
    [NAT_PERSISTENT, 'persistent'],
    [NAT_PROTO_RANDOM, 'hash'],
    [NAT_PROTO_RANDOM_FULLY, 'random'],
  ];
  const set = names.filter(([bit]) => flags & bit).map(([, n]) => n);
  return set.length > 0 ? `${s} ${set.join(',')}` : s;
}

/** Actions retis names after `exec` as they are (the others have their own words). */
const ACTION_WORDS: Record<string, string> = { set: 'tunnel_set' };

function actionText(o: O): string {
  let s = o.recirc_id ? `[recirc_id ${hex(o.recirc_id)}] exec` : 'exec';
  const a = o.action;
  if (a === 'output') s += ` oport ${o.port ?? 0}`;
  else if (a === 'recirc') s += ` recirc ${hex(o.id ?? 0)}`;
  else if (a === 'ct') s += ctAction(o);
  else if (a === 'drop') s += ` drop ${o.reason ?? 0}`;
  else if (a) s += ` ${ACTION_WORDS[a] ?? a}`;
  else s += ' unspec';
  if (def(o.queue_id)) s += ` q ${o.queue_id}`;
  return s;
}

function body(o: O): string {
  switch (o.event_type) {
    case 'upcall':
      return `upcall${cmdText(o.cmd)} port ${o.port ?? 0} cpu ${o.cpu ?? 0}`;
    case 'upcall_enqueue':
      return `upcall_enqueue${cmdText(o.cmd)} (${o.upcall_cpu ?? 0}/${o.upcall_ts ?? 0}) q ${o.queue_id ?? 0} ret ${o.ret ?? 0}`;
    case 'upcall_return':
      return `upcall_ret (${o.upcall_cpu ?? 0}/${o.upcall_ts ?? 0}) ret ${o.ret ?? 0}`;
    case 'recv_upcall':
      return `upcall_recv q ${o.queue_id ?? 0} pkt_size ${o.pkt_size ?? 0}`;
    case 'flow_operation':
      return `flow_${o.op_type ?? '?'} q ${o.queue_id ?? 0} ts ${o.batch_ts ?? 0} (${o.batch_idx ?? 0})`;
    case 'action_execute':
      return actionText(o);
    case 'flow_lookup':
      return (
        `ufid ${ufidText(o['ufid'])} hit (mask/cache) ${o.n_mask_hit ?? 0}/${o.n_cache_hit ?? 0} ` +
        `flow ${(o.flow ?? 0n).toString(16)} sf_acts ${(o.sf_acts ?? 0n).toString(16)}`
      );
    default:
      return `ovs ${String(o.event_type ?? '?')}`;
  }
}

/** The ovs line: retis's text, then what only retrace records. */
export function ovsText(o: O): string {
  const parts = [body(o)];
  if (o.event_type === 'flow_operation' && def(o.ufid)) parts.push(`ufid ${ufidText(o.ufid)}`);
  if (def(o.in_port)) parts.push(`in_port ${o.in_port}`);
  if (def(o.dp_name)) parts.push(`dp ${o.dp_name}`);
  return parts.join(' ');
}
