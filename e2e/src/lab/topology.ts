// A three-namespace lab: client -- router -- server over veth pairs, the router forwarding and
// (optionally) NATing. Everything lives in namespaces of this process; destroy() removes it all,
// nft tables included (they die with their namespace).
import { Netns } from './netns.js';

export interface RoutedLab {
  client: Netns;
  router: Netns;
  server: Netns;
  /** Addresses: client side 10.X.1.0/24, server side 10.X.2.0/24. */
  clientIp: string;
  routerClientIp: string;
  routerServerIp: string;
  serverIp: string;
  /** Interface names: client c0 <-> r0 router r1 <-> s0 server. */
  destroy(): void;
}

export interface RoutedLabOptions {
  /** Masquerade traffic leaving the router towards the server. */
  masquerade?: boolean;
  /** DNAT the router's client-side address, port mapping `from:to` (e.g. 8080 -> 80 on the server). */
  dnat?: { proto: 'tcp' | 'udp'; from: number; to: number }[];
  /** Also DNAT ICMP echo to the router's client-side address to the server. */
  dnatIcmp?: boolean;
  /** Extra nft rules for the router's filter forward chain (e.g. 'udp dport 9999 drop'). */
  forwardRules?: string[];
}

let labCount = 0;

export function routedLab(label: string, opts: RoutedLabOptions = {}): RoutedLab {
  const n = 100 + ((process.pid + labCount++) % 100);
  const client = Netns.create(`${label}-c`);
  const router = Netns.create(`${label}-r`);
  const server = Netns.create(`${label}-s`);
  const lab: RoutedLab = {
    client,
    router,
    server,
    clientIp: `10.${n}.1.2`,
    routerClientIp: `10.${n}.1.1`,
    routerServerIp: `10.${n}.2.1`,
    serverIp: `10.${n}.2.2`,
    destroy: () => {
      for (const ns of [client, router, server]) ns.destroy();
    },
  };
  try {
    client.ip('link', 'add', 'c0', 'type', 'veth', 'peer', 'name', 'r0', 'netns', router.name);
    router.ip('link', 'add', 'r1', 'type', 'veth', 'peer', 'name', 's0', 'netns', server.name);
    client.ip('addr', 'add', `${lab.clientIp}/24`, 'dev', 'c0');
    router.ip('addr', 'add', `${lab.routerClientIp}/24`, 'dev', 'r0');
    router.ip('addr', 'add', `${lab.routerServerIp}/24`, 'dev', 'r1');
    server.ip('addr', 'add', `${lab.serverIp}/24`, 'dev', 's0');
    for (const [ns, dev] of [
      [client, 'c0'],
      [router, 'r0'],
      [router, 'r1'],
      [server, 's0'],
    ] as const)
      ns.ip('link', 'set', dev, 'up');
    client.ip('route', 'add', 'default', 'via', lab.routerClientIp);
    server.ip('route', 'add', 'default', 'via', lab.routerServerIp);
    router.exec(['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    const nat: string[] = [];
    for (const d of opts.dnat ?? [])
      nat.push(
        `iifname "r0" ip daddr ${lab.routerClientIp} ${d.proto} dport ${d.from} dnat to ${lab.serverIp}:${d.to}`,
      );
    if (opts.dnatIcmp)
      nat.push(`iifname "r0" ip daddr ${lab.routerClientIp} icmp type echo-request dnat to ${lab.serverIp}`);
    router.nft(`table ip rtlab {
      chain prerouting_nat { type nat hook prerouting priority -100; policy accept; ${nat.map((r) => `${r};`).join(' ')} }
      chain postrouting_nat { type nat hook postrouting priority 100; policy accept; ${opts.masquerade ? 'oifname "r1" masquerade;' : ''} }
      chain forward_filter { type filter hook forward priority 0; policy accept; ${(opts.forwardRules ?? []).map((r) => `${r};`).join(' ')} }
    }`);
  } catch (e) {
    lab.destroy();
    throw e;
  }
  return lab;
}

export interface VxlanLab {
  a: Netns;
  b: Netns;
  /** Overlay addresses (on vx0), and the underlay's (on va/vb). */
  overlayA: string;
  overlayB: string;
  underlayA: string;
  underlayB: string;
  destroy(): void;
}

/** Two namespaces joined by a veth underlay carrying a VXLAN (VNI 42) overlay between them. */
export function vxlanLab(label: string): VxlanLab {
  const n = 100 + ((process.pid + labCount++) % 100);
  const a = Netns.create(`${label}-a`);
  const b = Netns.create(`${label}-b`);
  const lab: VxlanLab = {
    a,
    b,
    underlayA: `10.${n}.0.1`,
    underlayB: `10.${n}.0.2`,
    overlayA: `192.168.${n}.1`,
    overlayB: `192.168.${n}.2`,
    destroy: () => [a, b].forEach((ns) => ns.destroy()),
  };
  try {
    a.ip('link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb', 'netns', b.name);
    for (const [ns, dev, under, remote, over] of [
      [a, 'va', lab.underlayA, lab.underlayB, lab.overlayA],
      [b, 'vb', lab.underlayB, lab.underlayA, lab.overlayB],
    ] as const) {
      ns.ip('addr', 'add', `${under}/24`, 'dev', dev);
      ns.ip('link', 'set', dev, 'up');
      ns.ip(
        'link',
        'add',
        'vx0',
        'type',
        'vxlan',
        'id',
        '42',
        'remote',
        remote,
        'local',
        under,
        'dstport',
        '4789',
        'dev',
        dev,
      );
      ns.ip('addr', 'add', `${over}/24`, 'dev', 'vx0');
      ns.ip('link', 'set', 'vx0', 'up');
    }
  } catch (e) {
    lab.destroy();
    throw e;
  }
  return lab;
}
