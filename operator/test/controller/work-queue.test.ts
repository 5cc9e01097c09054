// The reconcile queue's later looks: a running trace's status refresh must not wait for its
// duration's end (the bug: the first timer asked for won, so a trace with a duration showed
// its first status until it ended).
import { WorkQueue } from '../../src/controller/work-queue.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('the earliest of several later looks at a key wins, and the key runs once for it', async () => {
  const runs: string[] = [];
  const q = new WorkQueue(async (key) => {
    runs.push(key);
    await Promise.resolve();
  });
  q.after('t', 60_000); // the duration's end
  q.after('t', 30); // the next status refresh
  q.after('t', 50_000);
  await sleep(200);
  expect(runs).toEqual(['t']);
  q.stop();
});
