// Files written by retrace before it took retis's conntrack layout had flat tuples
// (`ip_src`, `sport`, `icmp_type`, ...), `proto_state`, hex `labels` and `established_reply`.
// They are read into today's layout so every reader sees one shape.
import { isObj, type Obj } from './json-fields.js';

const ZONE_DIRS: Record<string, string> = {
  original: 'Original',
  reply: 'Reply',
  default: 'Default',
  none: 'None',
};
const PROTONUMS: Record<string, number> = { dccp: 33, gre: 47, udplite: 136 };

function tuple(t: Obj): Obj {
  const proto = String(t['proto'] ?? '');
  const ports = { sport: t['sport'] ?? 0, dport: t['dport'] ?? 0 };
  let p: Obj;
  if (proto === 'tcp' || proto === 'udp') p = { [proto]: ports };
  else if (proto === 'icmp' || proto === 'icmpv6')
    p = { icmp: { code: t['icmp_code'] ?? 0, type: t['icmp_type'] ?? 0, id: t['icmp_id'] ?? 0 } };
  else if (proto === 'sctp') p = { sctp: { ...ports, vtag: t['sctp_vtag'] ?? 0 } };
  else {
    const num = /^\d+$/.test(proto) ? Number(proto) : (PROTONUMS[proto] ?? 0);
    p = { other: { protonum: num, name: /^\d+$/.test(proto) ? '' : proto } };
  }
  return {
    ip: { src: t['ip_src'] ?? '', dst: t['ip_dst'] ?? '', version: t['ip_version'] === 6 ? 'v6' : 'v4' },
    proto: p,
  };
}

function conn(c: Obj): void {
  const proto = isObj(c['orig']) ? String(c['orig']['proto'] ?? '') : '';
  for (const dir of ['orig', 'reply']) {
    const t = c[dir];
    if (isObj(t)) c[dir] = tuple(t);
  }
  if (typeof c['zone_dir'] === 'string') c['zone_dir'] = ZONE_DIRS[c['zone_dir']] ?? c['zone_dir'];
  if (c['proto_state'] !== undefined) {
    if (proto === 'tcp') c['tcp_state'] = c['proto_state'];
    else if (proto === 'sctp') c['sctp_state'] = c['proto_state'];
    delete c['proto_state'];
  }
  if (typeof c['labels'] === 'string' && /^0x[0-9a-f]+$/i.test(c['labels'])) {
    const v = BigInt(c['labels']);
    c['labels'] = { hi: (v >> 64n).toString(), lo: (v & 0xffffffffffffffffn).toString() };
  }
}

/** Rewrites (in place) a ct section of retrace's former layout; today's (and retis's) is left alone. */
export function upgradeCt(ct: unknown): void {
  if (!isObj(ct)) return;
  const former = (c: unknown): c is Obj => isObj(c) && isObj(c['orig']) && 'ip_src' in c['orig'];
  if (!former(ct)) return;
  if (ct['state'] === 'established_reply') ct['state'] = 'reply';
  conn(ct);
  if (former(ct['parent'])) conn(ct['parent']);
}
