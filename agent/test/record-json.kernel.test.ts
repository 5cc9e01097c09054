// The fast JSON path writes exactly what the decoder + the schema writer write, on live records.
import { spawnSync } from 'node:child_process';
import { TracingSession } from '@retrace/agent';
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
