// The fast JSON paths (the native formatter, and JS for what it hands back) write exactly what
// the decoder + the schema writer write, on live records: record by record (events asked for
// too) and many at a time (lines only, as collect -o FILE).
import { spawnSync } from 'node:child_process';
import { RecordDecoder, TracingSession, collectorSections, loadLayouts } from '@retrace/agent';
import { Netns } from '@retrace/e2e';
import { parseEvent, stringifyEvent, type Event } from '@retrace/events';

test('on live records, every fast JSON line equals stringifyEvent(decode(record))', () => {
  const ns = Netns.create('json');
  // conntrack in the namespace, so records carry ct parts (with a mark) too.
  ns.nft(
    'table inet rtjson {\n chain out {\n type filter hook output priority 0;\n ct state new ct mark set 0x7\n }\n}\n',
  );
  const pairs: [string, Event][] = [];
  let pending: string | undefined;
  const session = TracingSession.start({
    collectors: ['auto'],
    probes: ['tp:net:netif_receive_skb/stack', 'tp:net:net_dev_start_xmit'],
    onJson: (line) => (pending = line),
    onEvent: (ev) => {
      if (pending !== undefined) pairs.push([pending, ev]);
      pending = undefined;
    },
  });
  try {
    spawnSync('ip', ['netns', 'exec', ns.name, 'ping', '-c', '3', '-i', '0.05', '127.0.0.1']);
    ns.sendUdp('127.0.0.1', 9); // dropped: NO_SOCKET, an skb-drop section
    session.drain();
  } finally {
    session.stop();
    ns.destroy();
  }
  const mine = pairs.filter(([, ev]) => ev.netns?.inum !== undefined);
  expect(mine.length).toBeGreaterThan(10);
  expect(pairs.some(([, ev]) => ev['skb-drop'])).toBe(true);
  expect(pairs.some(([, ev]) => ev.ct?.mark === 7 && ev.ct.orig?.proto?.icmp !== undefined)).toBe(true);
  expect(pairs.some(([, ev]) => ev.kernel?.stack_trace?.length)).toBe(true);
  for (const [line, ev] of pairs) {
    expect(line).toBe(stringifyEvent(ev));
    expect(parseEvent(line)).toEqual(ev);
  }
});

test('on live records, lines made many at a time (no events asked for) equal stringifyEvent(decode(record))', () => {
  const ns = Netns.create('jsonb');
  ns.nft(
    'table inet rtjsonb {\n chain out {\n type filter hook output priority 0;\n ct state new ct mark set 0x7\n }\n}\n',
  );
  const skbSections = new Set(['meta', 'dataref', 'gso', 'packet']);
  const lines: string[] = [];
  const records: Buffer[] = [];
  const session = TracingSession.start({
    collectors: ['auto'],
    probes: ['tp:net:netif_receive_skb', 'tp:net:net_dev_start_xmit'],
    skbSections,
    onRecords: (batch) => {
      for (const r of batch) records.push(Buffer.from(r));
    },
    onJsonLines: ({ buf, ends, count }) => {
      for (let i = 0; i < count; i++) lines.push(buf.toString('utf8', i ? ends[i - 1] : 0, (ends[i] as number) - 1));
    },
  });
  let decoded: string[];
  try {
    spawnSync('ip', ['netns', 'exec', ns.name, 'ping', '-c', '3', '-i', '0.05', '127.0.0.1']);
    ns.sendUdp('127.0.0.1', 9);
    session.drain();
    // A decoder of the same probes and sections reads the copies.
    const layouts = loadLayouts();
    const probes = session.probes.map((p) => ({ symbol: p.symbol, probeType: p.probeType }));
    const decoder = new RecordDecoder(
      layouts,
      probes,
      collectorSections(layouts, [...session.collectors], { skbSections }),
    );
    decoded = records.map((r) =>
      stringifyEvent(decoder.decode(new DataView(r.buffer, r.byteOffset, r.length), r, 0, r.length)),
    );
  } finally {
    session.stop();
    ns.destroy();
  }
  const events = decoded.map((l) => parseEvent(l));
  expect(events.filter((ev) => ev.netns?.inum !== undefined).length).toBeGreaterThan(10);
  expect(events.some((ev) => ev['skb-drop'])).toBe(true);
  expect(events.some((ev) => ev.ct?.mark === 7)).toBe(true);
  // Records the native formatter writes (no ct part) and records JS writes (with one).
  expect(events.some((ev) => ev.skb?.meta && !ev.ct)).toBe(true);
  expect(lines).toEqual(decoded);
});
