// When a batch may be acknowledged, and what a restart feeds and counts again.
import { AckLedger } from '../../src/server/ack-ledger.js';

test('a batch is acknowledged once all its events are stored, and in order', () => {
  const l = new AckLedger();
  const b1 = l.admit('n1', 't', 'run1', 1n, 3).ref;
  const b2 = l.admit('n1', 't', 'run1', 2n, 2).ref;
  b2.markStored(0);
  b2.markStored(1);
  // Batch 2 is whole but batch 1 is not: nothing yet (acknowledgements are cumulative).
  expect(l.advance().acks).toEqual([]);
  b1.markStored(0);
  b1.markStored(2);
  b1.markStored(2); // twice is once
  expect(l.advance().acks).toEqual([]);
  b1.markStored(1);
  expect(l.advance().acks).toEqual([{ node: 'n1', trace: 't', incarnation: 'run1', seq: 2n }]);
  expect(l.advance().acks).toEqual([]);
});

test('after a restart, resent batches feed only what was not stored and are not counted again', () => {
  const before = new AckLedger();
  before.admit('n1', 't', 'run1', 1n, 2).ref.markStored(0);
  before.admit('n1', 't', 'run1', 1n + 1n, 2);
  const { state } = before.advance();
  expect(state).toEqual([
    { node: 'n1', trace: 't', incarnation: 'run1', acked: '0', counted: '2', unstored: { 1: [1], 2: [0, 1] } },
  ]);

  const after = new AckLedger();
  after.load(state);
  expect(after.cursors()).toEqual({ n1: { incarnation: 'run1', lastSeq: { t: '0' } } });
  const r1 = after.admit('n1', 't', 'run1', 1n, 2);
  expect([r1.count, r1.feed]).toEqual([false, [1]]);
  const r2 = after.admit('n1', 't', 'run1', 2n, 2);
  expect([r2.count, r2.feed]).toEqual([false, [0, 1]]);
  // A batch the first run never saw is new: fed whole and counted.
  const r3 = after.admit('n1', 't', 'run1', 3n, 4);
  expect([r3.count, r3.feed]).toEqual([true, undefined]);
  r1.ref.markStored(0); // slot 0 of what was fed: the batch's event 1
  for (const r of [r2, r3]) for (let s = 0; s < r.ref.fed.length; s++) r.ref.markStored(s);
  expect(after.advance().acks).toEqual([{ node: 'n1', trace: 't', incarnation: 'run1', seq: 3n }]);
});

test('events a skipped or restarted run will never resend are counted as lost', () => {
  const before = new AckLedger();
  before.admit('n1', 't', 'run1', 1n, 3);
  before.admit('n2', 't', 'old', 1n, 2);
  const { state } = before.advance();
  const after = new AckLedger();
  after.load(state);
  // n1 resends from batch 2 (batch 1 was dropped on its side): batch 1's 3 events are gone.
  expect(after.admit('n1', 't', 'run1', 2n, 1).lostBefore).toBe(3);
  // n2 restarted: its old run's 2 unstored events will not come again.
  expect(after.newIncarnation('n2', 'new')).toEqual([{ trace: 't', events: 2 }]);
});

test('a prepared advance acknowledges and saves what was stored when it was prepared, not what was stored since', () => {
  const l = new AckLedger();
  const b1 = l.admit('n1', 't', 'run1', 1n, 2).ref;
  const b2 = l.admit('n1', 't', 'run1', 2n, 3).ref;
  b1.markStored(0);
  b1.markStored(1);
  b2.markStored(0);
  const p = l.prepare(); // a checkpoint begins
  b2.markStored(1); // stored while its fsyncs run: not vouched for by it
  b2.markStored(2);
  expect(p.acks).toEqual([{ node: 'n1', trace: 't', incarnation: 'run1', seq: 1n }]);
  expect(p.state()).toEqual([
    { node: 'n1', trace: 't', incarnation: 'run1', acked: '1', counted: '2', unstored: { 2: [1, 2] } },
  ]);
  l.commit(p);
  expect(l.cursors()).toEqual({ n1: { incarnation: 'run1', lastSeq: { t: '1' } } });
  // The next one has the rest.
  expect(l.advance().acks).toEqual([{ node: 'n1', trace: 't', incarnation: 'run1', seq: 2n }]);
  // A trace dropped while a checkpoint ran is not acknowledged by it.
  const b3 = l.admit('n1', 't', 'run1', 3n, 1).ref;
  b3.markStored(0);
  const q = l.prepare();
  l.dropTrace('t');
  l.commit(q);
  expect(l.cursors()).toEqual({});
});
