// The startup event's claim: every file retrace writes opens with `retis_version: v1.7.0`, and
// retis's reader takes the layout from that claim (its compatibility table: 1.5.x and 1.6.x get
// fixups towards 1.7's layout, 1.7.0 and later are read as written, older ones are refused). The
// claim is exact: under it the library reads retrace's values unchanged (the other
// retis-python tests compare every field), and the retis version just before it makes the library
// refuse the very same file.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Netns, runRetrace } from '@retrace/e2e';
import { parseLine, type Event } from '@retrace/events';
import { collectInNetns, tempDir } from './helpers.js';
import { DUMP_SCRIPT, RETIS_PYTHON, dumpStandalone, requireRetisLibrary, type Dumped } from './retis-python-lib.js';
import { spawnSync } from 'node:child_process';

const CLAIM = 'v1.7.0';
const tmp = tempDir();
const plain = join(tmp.dir, 'plain.data');
const rotated = join(tmp.dir, 'rot.data');
const sorted = join(tmp.dir, 'sorted.data');
let ns: Netns;

function collect(out: string, extra: string[]): void {
  collectInNetns(ns, `ping -f -c ${extra.length ? 1500 : 3} 127.0.0.1 >/dev/null`, out, extra);
}

beforeAll(() => {
  requireRetisLibrary();
  ns = Netns.create('rpystart');
  collect(plain, []);
  collect(rotated, ['--out-rotate', '1MB']);
  expect(runRetrace(['sort', `${rotated}.0..`, '-o', sorted]).code).toBe(0);
}, 60_000);

afterAll(() => {
  ns?.destroy();
  tmp.remove();
});

const firstLine = (file: string): string => readFileSync(file, 'utf8').split('\n')[0] ?? '';
const startupOf = (file: string): Event | undefined => {
  const v = parseLine(firstLine(file), 1);
  return Array.isArray(v) ? v.find((e) => e.startup) : v;
};

/** The file with its startup's claim replaced (the first line only, as the reader looks there). */
function withClaim(file: string, claim: string): string {
  const lines = readFileSync(file, 'utf8').split('\n');
  lines[0] = (lines[0] ?? '').replace(`"retis_version":"${CLAIM}"`, `"retis_version":"${claim}"`);
  const out = join(tmp.dir, `claim-${claim}-${file.split('/').pop() ?? ''}`);
  writeFileSync(out, lines.join('\n'));
  return out;
}

function libraryReads(file: string, kind: 'events' | 'series'): { ok: boolean; error: string } {
  const r = spawnSync(RETIS_PYTHON, [DUMP_SCRIPT, file, kind], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
    env: { ...process.env, RUST_BACKTRACE: '0' },
  });
  return { ok: r.status === 0, error: /RuntimeError: (.*)/.exec(r.stderr)?.[1] ?? r.stderr.trim() };
}

test(`every file retrace writes opens with a startup event claiming retis ${CLAIM}`, () => {
  const files = [plain, `${rotated}.0`, `${rotated}.1`, sorted];
  for (const f of files) expect(startupOf(f)?.startup?.retis_version).toBe(CLAIM);
  // The library sees the claim as written, on the startup event it reads first.
  const first = (dumpStandalone(plain, 'events') as Dumped[])[0];
  expect(first?.dict['startup']).toMatchObject({ retis_version: CLAIM });
  expect(first?.text).toContain(`collected with Retis ${CLAIM}`);
});

test('the claim is the lowest retis version whose reader takes the files as written', () => {
  for (const [file, kind] of [
    [plain, 'events'],
    [sorted, 'series'],
  ] as const) {
    expect(libraryReads(file, kind)).toEqual({ ok: true, error: '' });
    // retis 1.6's layout: the library applies 1.6 -> 1.7 fixups (it adds startup.machine), which
    // retrace's 1.7 startup already has: refused.
    const older = libraryReads(withClaim(file, 'v1.6.99'), kind);
    expect(older.ok).toBe(false);
    expect(older.error).toContain('already exists');
    // Before 1.5 there is no compatibility at all.
    expect(libraryReads(withClaim(file, 'v1.4.0'), kind).error).toContain('Unsupported Retis version');
    // Later 1.x releases read as 1.7 does: a higher claim would not be more true, only less exact.
    expect(libraryReads(withClaim(file, 'v1.7.1'), kind).ok).toBe(true);
  }
});
