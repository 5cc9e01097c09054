// A full disk under the trace store, for real (root: a 512 KiB tmpfs): writes the disk refuses
// are kept and made again at their place; sync() says so until they are on disk; reads serve
// them from memory meanwhile; nothing is lost once the disk has room again.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readlinkSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StoreWriteError, TraceStore } from '../../src/store/index.js';
import { dropped, ids } from './store-journeys.js';

const tmp = mkdtempSync(join(tmpdir(), 'retrace-store-disk-'));
const disk = join(tmp, 'disk');
let mounted = false;

const until = async (ok: () => boolean): Promise<void> => {
  while (!ok()) await new Promise((r) => setTimeout(r, 5));
};

beforeAll(() => {
  mkdirSync(disk);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', disk]);
  mounted = true;
});

/** Files of this process open on the test's disk (the store's, until the thread pool is done). */
const openOnDisk = (): string[] =>
  readdirSync('/proc/self/fd')
    .map((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        return ''; // closed meanwhile
      }
    })
    .filter((target) => target.startsWith(`${disk}/`));

afterAll(async () => {
  // close() leaves writes still in the thread pool to finish: their files close after them
  await until(() => openOnDisk().length === 0);
  if (mounted) execFileSync('umount', [disk]);
  rmSync(tmp, { recursive: true, force: true });
});

/** Fills the disk with a file, to its last byte. */
function fill(file: string): void {
  const fd = openSync(file, 'w');
  const block = Buffer.alloc(4096, 1);
  try {
    for (;;) writeSync(fd, block);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    closeSync(fd);
  }
}

test('ENOSPC: the bytes are kept, sync() throws until the disk takes them, reads see everything, a restart too', async () => {
  const dir = join(disk, 'store');
  const store = TraceStore.open(dir, { segmentBytes: 64 * 1024, capBytes: 1 << 20 });
  for (let n = 0; n < 50; n++) store.append('t', dropped(n));
  store.sync();
  expect(store.lastWriteError).toBeUndefined();
  const filler = join(disk, 'filler');
  fill(filler);
  for (let n = 50; n < 400; n++) store.append('t', dropped(n));
  store.flush(); // the thread pool's writes fail
  await until(() => store.lastWriteError !== undefined);
  expect(store.lastWriteError?.message).toMatch(/seg-\d{8}\.rec: the disk is full; events are kept unacknowledged/);
  expect(() => store.sync()).toThrow(StoreWriteError);
  expect(() => store.sync()).toThrow(/the disk is full/);
  const want = Array.from({ length: 400 }, (_, n) => [0, 1, 2].map((i) => `node-a/${n}#${i}`)).flat();
  expect(ids(store, 't')).toEqual(want); // from memory where the disk has not taken them
  expect(store.warnings.some((w) => /not written \(.*\): kept, and written again/.test(w.message))).toBe(true);

  rmSync(filler);
  store.flush(); // written again by the pool, at their place
  store.sync();
  expect(store.lastWriteError).toBeUndefined();
  store.close();
  const again = TraceStore.open(dir);
  expect(again.warnings).toEqual([]);
  expect(ids(again, 't')).toEqual(want);
  again.close();
});
