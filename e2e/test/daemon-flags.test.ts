// The daemons' command lines as their user meets them (the built entrypoints): --help lists every
// flag with its default, and a mistake is said with the program's name and exits with status 2
// before anything starts.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, test } from '@jest/globals';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BINS = {
  'retrace-agent': join(repo, 'agent/dist/bin/retrace-agent.js'),
  'retrace-aggregator': join(repo, 'aggregator/dist/bin/retrace-aggregator.js'),
  'retrace-operator': join(repo, 'operator/dist/bin/retrace-operator.js'),
} as const;
type Daemon = keyof typeof BINS;
const home = mkdtempSync(join(tmpdir(), 'retrace-daemon-flags-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

function run(daemon: Daemon, args: string[]) {
  // No Kubernetes configuration and no aggregator: nothing may get as far as needing either.
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home };
  return spawnSync(process.execPath, [BINS[daemon], ...args], { env, encoding: 'utf8', timeout: 30_000 });
}

test.each<[Daemon, string[]]>([
  ['retrace-agent', ['--server <HOST:PORT>', 'RETRACE_SERVER', '--orphan-timeout-ms <MS>', '(default: 60000)']],
  ['retrace-aggregator', ['--store <DIR>', '--checkpoint-ms <MS>', '--control-client <NAME>', '(repeatable)']],
  ['retrace-operator', ['--store <DIR>', '--aggregator <HOST:PORT>', '--lease-name <NAME>', 'are retrace-aggregator']],
])('%s --help: its flags with their defaults, on stdout, exit 0', (daemon, shown) => {
  const r = run(daemon, ['--help']);
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(new RegExp(`^Usage: ${daemon} \\[options\\]`));
  for (const s of shown) expect(r.stdout).toContain(s);
  expect(r.stderr).toBe('');
});

test.each<[Daemon, string[], string]>([
  [
    'retrace-agent',
    ['--server', 'x:1', '--insecure', '--metrics-port', 'ninety'],
    "--metrics-port must be a whole number from 0 to 65535, got 'ninety'",
  ],
  ['retrace-agent', ['--insecure'], '--server HOST:PORT is required (the aggregator)'],
  [
    'retrace-agent',
    ['--server', 'x:1', '--insecure', '--node-nets', 'a'],
    "unknown option '--node-nets'\n(Did you mean --node-netns?)",
  ],
  ['retrace-aggregator', ['--insecure'], '--store DIR is required (where results are kept)'],
  [
    'retrace-aggregator',
    ['--store', 'x', '--insecure', '--lateness-ms', '1s'],
    "--lateness-ms must be a whole number, got '1s'",
  ],
  [
    'retrace-aggregator',
    ['--store', 'x', '--insecure', 'now'],
    "unexpected argument 'now': retrace-aggregator takes only flags",
  ],
  [
    'retrace-operator',
    ['--aggregator', 'nowhere', '--insecure'],
    "--aggregator must be HOST:PORT (the separate retrace-aggregator), got 'nowhere'",
  ],
  ['retrace-operator', ['--store', 'x', '--insecure', '--leader-elect'], '--leader-elect needs --lease-namespace'],
  ['retrace-operator', ['--store', 'x', '--insecure', '--relist-ms'], "option '--relist-ms <MS>' argument missing"],
])('%s %j: exit 2, %s', (daemon, args, said) => {
  const r = run(daemon, args);
  expect(r.status).toBe(2);
  expect(r.stderr).toContain(`${daemon}: ${said}`);
  expect(r.stderr).toContain(`(${daemon} --help lists every flag)`);
});
