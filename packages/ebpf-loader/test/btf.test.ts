// BTF queries, checked against bpftool's own reading of the same kernel BTF.
import { spawnSync } from 'node:child_process';
import { KernelBtf } from '@retrace/ebpf-loader';

interface RawType {
  id: number;
  kind: string;
  name: string;
  attrs: string;
  lines: string[];
}

let raw: Map<number, RawType>;
let byName: Map<string, RawType>;

beforeAll(() => {
  const out = spawnSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'raw'], {
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  }).stdout;
  raw = new Map();
  byName = new Map();
  let cur: RawType | undefined;
  for (const line of out.split('\n')) {
    const m = /^\[(\d+)\] (\S+) '([^']*)'(.*)$/.exec(line);
    if (m) {
      cur = { id: Number(m[1]), kind: m[2] ?? '', name: m[3] ?? '', attrs: m[4] ?? '', lines: [] };
      raw.set(cur.id, cur);
      byName.set(`${cur.kind} ${cur.name}`, cur);
    } else if (cur && line.startsWith('\t')) cur.lines.push(line.trim());
  }
});

function attr(t: RawType, key: string): number {
  return Number(new RegExp(`${key}=(\\d+)`).exec(t.attrs)?.[1]);
}

function params(protoId: number): { name: string; type: number }[] {
  const proto = raw.get(protoId);
  if (!proto) throw new Error(`no type ${protoId}`);
  return proto.lines.map((l) => {
    const m = /^'([^']*)' type_id=(\d+)/.exec(l);
    return { name: m?.[1] ?? '', type: Number(m?.[2]) };
  });
}

test('the prototype of ip_rcv matches bpftool', () => {
  const btf = KernelBtf.vmlinux();
  const proto = btf.functionPrototype('ip_rcv');
  expect(proto).toBeDefined();
  const fn = byName.get('FUNC ip_rcv');
  expect(fn).toBeDefined();
  if (!proto || !fn) return;
  const expectedParams = params(attr(fn, 'type_id'));
  expect(proto.params.map((p) => ({ name: p.name, type: p.typeId }))).toEqual(expectedParams);
  expect(proto.text).toBe(
    'int ip_rcv(struct sk_buff *skb, struct net_device *dev, struct packet_type *pt, struct net_device *orig_dev)',
  );
  expect(btf.skbParameter(proto)?.name).toBe('skb');
  expect(btf.functionPrototype('no_such_function_xyz')).toBeUndefined();
});

test('the skb parameter of net:netif_receive_skb is its first argument, as bpftool shows', () => {
  const btf = KernelBtf.vmlinux();
  const proto = btf.tracepointPrototype('net:netif_receive_skb');
  expect(proto).toBeDefined();
  if (!proto) return;
  const td = byName.get('TYPEDEF btf_trace_netif_receive_skb');
  expect(td).toBeDefined();
  if (!td) return;
  const ptr = raw.get(attr(td, 'type_id'));
  const bpftoolParams = params(ptr ? attr(ptr, 'type_id') : -1).slice(1); // drop the void *ctx
  const skb = btf.skbParameter(proto);
  expect(skb?.index).toBe(0);
  expect(skb?.typeId).toBe(bpftoolParams[0]?.type);
  const target = raw.get(skb?.typeId ?? -1);
  expect(target?.kind).toBe('PTR');
  expect(raw.get(attr(target as RawType, 'type_id'))?.name).toBe('sk_buff');
  expect(btf.hasTracepoint('net:netif_receive_skb')).toBe(true);
  expect(btf.hasTracepoint('net:no_such_tracepoint')).toBe(false);
});

test('the names of skb_drop_reason match bpftool, values included', () => {
  const reasons = KernelBtf.vmlinux().enumValues('skb_drop_reason');
  const e = byName.get('ENUM skb_drop_reason') ?? byName.get('ENUM64 skb_drop_reason');
  expect(e).toBeDefined();
  const expectedMap = new Map(
    (e?.lines ?? []).map((l) => {
      const m = /^'([^']*)' val=(-?\d+)/.exec(l);
      return [m?.[1] ?? '', BigInt(m?.[2] ?? 0)] as [string, bigint];
    }),
  );
  expect(reasons).toEqual(expectedMap);
  expect(reasons?.get('SKB_DROP_REASON_NETFILTER_DROP')).toBeDefined();
  expect(reasons?.get('SKB_DROP_REASON_NOT_SPECIFIED')).toBeDefined();
});

test('struct member offsets, through anonymous unions and nested structs, match bpftool', () => {
  const btf = KernelBtf.vmlinux();
  const skb = byName.get('STRUCT sk_buff');
  expect(skb).toBeDefined();
  const direct = (name: string): number =>
    Number(
      new RegExp(`^'${name}' type_id=\\d+ bits_offset=(\\d+)`).exec(
        skb?.lines.find((l) => l.startsWith(`'${name}'`)) ?? '',
      )?.[1],
    );
  expect(btf.memberOffset('sk_buff', 'len')?.bitOffset).toBe(direct('len'));
  expect(btf.memberOffset('sk_buff', 'head')?.bitOffset).toBe(direct('head'));
  // `dev` lives in an anonymous union in sk_buff; its offset must be the union's plus its own.
  const dev = btf.memberOffset('sk_buff', 'dev');
  expect(dev).toBeDefined();
  expect(btf.isPointerToStruct(dev?.typeId ?? 0, 'net_device')).toBe(true);
  // net_device.name is a char array at a fixed offset
  const name = btf.memberOffset('net_device', 'name');
  expect(name?.bitOffset).toBeGreaterThan(0);
  expect(btf.memberOffset('sk_buff', 'no_such_member')).toBeUndefined();
  expect(btf.memberOffset('no_such_struct', 'x')).toBeUndefined();
});

test('module BTF: a loaded module is readable, a missing one is named in the error', () => {
  expect(() => KernelBtf.module('retrace_no_such_module')).toThrow(
    /module retrace_no_such_module.*is the module loaded/,
  );
  const mods = KernelBtf.moduleNames();
  if (mods.length > 0) {
    const m = KernelBtf.module(mods[0] ?? '');
    expect(m.functionNames().length).toBeGreaterThan(0);
    m.close();
  }
});
