// The decoder reads records by the layout in the probe object's own BTF; drift, truncation and
// foreign versions are errors that say so.
import {
  NftCollector,
  nftRecordTap,
  verdictMask,
  DropReasons,
  LayoutError,
  RecordDecoder,
  RecordError,
  collectorSections,
  loadLayouts,
  partPlace,
  Sec,
  ProbeFlag,
  OvsDecoder,
  partSection,
} from '@retrace/agent';
import { KernelBtf, bpfObjectPath } from '@retrace/ebpf-loader';

const layouts = loadLayouts();
const L = layouts.event;

/** A record with every part (the base, then the collectors' parts). */
function record(fields: Record<string, number | bigint | string>): Buffer {
  const b = Buffer.alloc(L.size + layouts.parts.size);
  for (const [name, v] of Object.entries(fields)) {
    const f = L.fields[name];
    if (!f) throw new Error(`no ${name}`);
    if (typeof v === 'string') b.write(v, f.offset, 'utf8');
    else if (f.size === 8) b.writeBigUInt64LE(BigInt(v), f.offset);
    else if (f.size === 4) b.writeUInt32LE(Number(v), f.offset);
    else if (f.size === 2) b.writeUInt16LE(Number(v), f.offset);
    else b.writeUInt8(Number(v), f.offset);
  }
  return b;
}

const reasons = new DropReasons();
const netfilterDrop = Number(KernelBtf.vmlinux().enumValues('skb_drop_reason')?.get('SKB_DROP_REASON_NETFILTER_DROP'));
const KFREE = [{ symbol: 'skb:kfree_skb', probeType: 'raw_tracepoint' }];
const decoder = new RecordDecoder(
  layouts,
  KFREE,
  collectorSections(layouts, ['skb-tracking', 'skb-drop', 'skb', 'dev', 'ns']),
);

function decode(b: Buffer): ReturnType<RecordDecoder['decode']> {
  return decoder.decode(new DataView(b.buffer, b.byteOffset, b.byteLength), b, 0, b.length);
}

test('a record decodes into retis sections', () => {
  const packet = Buffer.from('000000000000000000000000080045', 'hex');
  const b = record({
    version: 1,
    probe_id: 0,
    present: (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 10),
    cpu: 1,
    timestamp: 123456789n,
    pid: 42,
    tgid: 41,
    comm: 'ping',
    skb: 0xffff888100000000n,
    orig_head: 0xffff888200000000n,
    track_ts: 123000000n,
    drop_reason: netfilterDrop,
    dev_name: 'r0',
    ifindex: 3,
    rx_ifindex: 3,
    netns_inum: 4026531840,
    pkt_len: 98,
    capture_len: packet.length,
  });
  packet.copy(b, L.fields['packet']?.offset);
  expect(decode(b)).toEqual({
    common: { timestamp: 123456789n, smp_id: 1, task: { pid: 42, tgid: 41, comm: 'ping' } },
    kernel: { symbol: 'skb:kfree_skb', probe_type: 'raw_tracepoint' },
    'skb-tracking': { orig_head: 0xffff888200000000n, timestamp: 123000000n, skb: 0xffff888100000000n },
    'skb-drop': { drop_reason: 'NETFILTER_DROP' },
    packet: { len: 98, capture_len: packet.length, data: packet.toString('base64') },
    dev: { name: 'r0', ifindex: 3, rx_ifindex: 3 },
    netns: { inum: 4026531840 },
  });
});

test('a kernel without drop reasons is stated in the event', () => {
  const ev = decode(record({ version: 1, present: 1 << 7 }));
  expect(ev['skb-drop']).toEqual({ drop_reason: 'UNAVAILABLE', subsys: 'kernel without drop reasons (< 5.17)' });
});

test('truncated records, other versions and unknown probes are errors naming the problem', () => {
  const good = record({ version: 1 });
  expect(() => decoder.decode(new DataView(good.buffer), good, 0, 40)).toThrow(RecordError);
  expect(() => decoder.decode(new DataView(good.buffer), good, 0, 40)).toThrow(/truncated record: 40 bytes/);
  expect(() => decode(record({ version: 7 }))).toThrow(/record version 7, this retrace decodes version 1/);
  expect(() => decode(record({ version: 1, probe_id: 9 }))).toThrow(/unknown probe id 9/);
});

test('a record with a ct part must be long enough to hold it; without one it may end before it', () => {
  const withCt = new RecordDecoder(layouts, KFREE, collectorSections(layouts, ['ct']));
  const part = partPlace(layouts, 'ct');
  const ct = layouts.struct('retrace_ct');
  const base = L.size;
  const b = record({ version: 1, present: part.bit });
  expect(() => withCt.decode(new DataView(b.buffer), b, 0, base)).toThrow(
    /truncated record: \d+ bytes, but its ct part needs/,
  );
  const plain = record({ version: 1 });
  expect(withCt.decode(new DataView(plain.buffer), plain, 0, base).ct).toBeUndefined();
  // An untracked packet (notrack): the state only.
  const conn = part.offset + (ct.fields['conn']?.offset ?? 0);
  b.writeUInt8(7, part.offset + (ct.fields['info']?.offset ?? 0));
  b.writeUInt8(8, conn + (layouts.struct('retrace_ct_conn').fields['flags']?.offset ?? 0));
  expect(withCt.decode(new DataView(b.buffer), b, 0, b.length).ct).toEqual({
    state: 'untracked',
    zone_id: 0,
    zone_dir: 'None',
    // retis's readers need both tuples: its defaults.
    orig: { ip: { src: '', dst: '', version: 'v4' }, proto: { tcp: { sport: 0, dport: 0 } } },
    reply: { ip: { src: '', dst: '', version: 'v4' }, proto: { tcp: { sport: 0, dport: 0 } } },
    ct_status: 0n,
  });
});

test('the nft part of a __nft_trace_packet record: names, handles, verdict, family', () => {
  const withNft = new RecordDecoder(
    layouts,
    [{ symbol: '__nft_trace_packet', probeType: 'kprobe' }],
    collectorSections(layouts, ['nft']),
  );
  const part = partPlace(layouts, 'nft');
  const b = record({ version: 1, present: part.bit });
  const at = part.offset;
  const f = (n: string): number => at + (layouts.struct('retrace_nft').fields[n]?.offset ?? 0);
  b.write('filter\0', f('table'));
  b.write('forward\0', f('chain'));
  b.write('other\0', f('verdict_chain'));
  b.writeBigUInt64LE(3n, f('table_handle'));
  b.writeBigUInt64LE(4n, f('chain_handle'));
  b.writeBigUInt64LE(9n, f('rule_handle'));
  b.writeInt32LE(-3, f('verdict'));
  b.writeUInt8(2, f('family'));
  b.writeUInt8(1 | 4, f('flags'));
  expect(withNft.decode(new DataView(b.buffer), b, 0, b.length).nft).toEqual({
    table_name: 'filter',
    chain_name: 'forward',
    verdict: 'jump',
    verdict_chain_name: 'other',
    table_handle: 3n,
    chain_handle: 4n,
    rule_handle: 9n,
    policy: false,
    family: 'ip',
  });
  expect(() => withNft.decode(new DataView(b.buffer), b, 0, at)).toThrow(/but its nft part needs/);
  // --nft-verdicts as the BPF mask: NF codes by value, NFT codes (negative) from bit 9.
  expect(verdictMask(new Set(['drop', 'accept']))).toBe(0b11);
  expect(verdictMask(new Set(['jump']))).toBe(1 << 11);
  expect(verdictMask(new Set(['all']))).toBe(0xffffffff);
});

test('nft trace records start like every record, and a truncated one is an error naming it', () => {
  const msg = layouts.struct('retrace_nft_msg');
  for (const f of ['version', 'size', 'probe_id', 'present', 'cpu', 'timestamp'])
    expect([f, msg.fields[f]?.offset]).toEqual([f, L.fields[f]?.offset]);
  const nft = new NftCollector({
    verdicts: new Set(['drop']),
    allowSystemChanges: false,
    emitUnmatched: true,
    emit: () => {},
    note: () => {},
  });
  const tap = nftRecordTap(layouts, nft);
  const b = Buffer.alloc(msg.size);
  b.writeUInt16LE(1, 0);
  b.writeUInt32LE(Sec.OWN_RECORD | partPlace(layouts, 'nft').bit, msg.fields['present']?.offset ?? 0);
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  expect(() => tap(view, b, 0, 64)).toThrow(/truncated nft trace record: 64 bytes, it needs \d+/);
  // A whole one with an empty message is consumed (no event of its own).
  expect(tap(view, b, 0, b.length)).toBe(true);
});

test('subsystem drop reasons carry their subsystem', () => {
  const r = reasons.name((3 << 16) | 1);
  expect(r.subsys).toBeDefined();
  expect(reasons.name(netfilterDrop)).toEqual({ reason: 'NETFILTER_DROP' });
});

test('an object whose record struct drifted from the decoder is refused at start', () => {
  expect(() => loadLayouts(bpfObjectPath('tests/kfree_skb_probe'))).toThrow(LayoutError);
  expect(() => loadLayouts(bpfObjectPath('tests/kfree_skb_probe'))).toThrow(/struct retrace_event is missing/);
});

test('section bits and probe flags are the ones probe.bpf.o was built with (enum names without prefix)', () => {
  const btf = KernelBtf.file(bpfObjectPath('probe'));
  const fromBtf = (name: string, prefix: string): Record<string, number> =>
    Object.fromEntries(
      [...(btf.enumValues(name) ?? new Map<string, bigint>())].map(([k, v]) => [k.slice(prefix.length), Number(v)]),
    );
  expect(fromBtf('retrace_section', 'SEC_')).toEqual({ ...Sec });
  expect(fromBtf('retrace_probe_flags', 'PROBE_F_')).toEqual({ ...ProbeFlag });
});

test('the ovs part of a datapath record: event type, action by name, output port, queue id only when set', () => {
  const part = partPlace(layouts, 'ovs');
  const ovs = new OvsDecoder(layouts.struct('retrace_ovs'), (n) => (n === 1 ? 'output' : `action_${n}`));
  const withOvs = new RecordDecoder(
    layouts,
    [{ symbol: 'openvswitch:ovs_do_execute_action', probeType: 'raw_tracepoint' }],
    [partSection('ovs', layouts, 'ovs', (view, buf, at) => ovs.decode(view, buf, at))],
  );
  const b = record({ version: 1, present: part.bit });
  const at = part.offset;
  const f = (n: string): number => at + (layouts.struct('retrace_ovs').fields[n]?.offset ?? 0);
  b.writeUInt8(4, f('type'));
  b.writeUInt8(2, f('flags')); // port set, no queue id
  b.writeUInt32LE(1, f('action'));
  b.writeUInt32LE(3, f('port'));
  b.writeUInt32LE(2, f('in_port'));
  b.write('ovs-system\0', f('dp_name'));
  const view = new DataView(b.buffer);
  expect(withOvs.decode(view, b, 0, b.length).ovs).toEqual({
    event_type: 'action_execute',
    action: 'output',
    port: 3,
    recirc_id: 0,
    in_port: 2,
    dp_name: 'ovs-system',
  });
  b.writeUInt8(3, f('flags'));
  b.writeUInt32LE(0x1234, f('queue_id'));
  expect(withOvs.decode(view, b, 0, b.length).ovs?.queue_id).toBe(0x1234);
  expect(() => withOvs.decode(view, b, 0, at + 8)).toThrow(/truncated record: \d+ bytes, but its ovs part needs/);
});
