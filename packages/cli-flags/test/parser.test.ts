// A daemon's command line as its user meets it: values of the declared types, --help made from
// the same table, and every mistake refused naming the flag and what it wants.
import { afterEach, expect, test } from '@jest/globals';
import {
  FlagError,
  FlagParser,
  TLS_FLAGS,
  address,
  bool,
  choice,
  commaList,
  integer,
  port,
  repeated,
  text,
} from '../src/index.js';

const FLAGS = {
  store: text('DIR', 'where results are kept'),
  name: text('NAME', 'who this is', { env: 'TEST_FLAGS_NAME', default: 'me' }),
  ...TLS_FLAGS,
  'metrics-port': port('health and metrics here'),
  'cap-bytes': integer('BYTES', 'the space'),
  'tick-ms': integer('MS', 'how often', { min: 100, max: 60_000, why: 'the tick is 100 ms' }),
  queries: integer('N', 'streams at once', { min: 1 }),
  listen: address('where to listen'),
  mode: choice('MODE', 'how', ['bound', 'shared']),
  authz: choice('MODE', 'who reads', ['kubernetes'], 'reading needs RBAC'),
  agents: commaList('NAME,...', 'agent names'),
  client: repeated('NAME', 'a client'),
  verbose: bool('say more'),
} as const;

const parser = new FlagParser({
  name: 'retrace-test',
  summary: 'A test daemon.',
  flags: FLAGS,
  epilog: `With --store every flag ${'and more words '.repeat(8)}applies.`,
});

function values(args: string[]) {
  const r = parser.parse(args);
  if (!('values' in r)) throw new Error('help instead of values');
  return r.values;
}

const refused = (args: string[]): string => {
  try {
    parser.parse(args);
  } catch (e) {
    if (e instanceof FlagError) return e.message;
    throw e;
  }
  throw new Error(`${args.join(' ')} was accepted`);
};

afterEach(() => {
  delete process.env.TEST_FLAGS_NAME;
});

test('values have their types; flags not given are undefined, false, empty or their default', () => {
  const v = values(['--store', '/s', '--metrics-port', '0', '--cap-bytes=1048576', '--insecure', '--mode', 'shared']);
  expect(v).toEqual({
    store: '/s',
    name: 'me',
    ca: undefined,
    cert: undefined,
    key: undefined,
    insecure: true,
    'metrics-port': 0,
    'cap-bytes': 1048576,
    'tick-ms': undefined,
    queries: undefined,
    listen: undefined,
    mode: 'shared',
    authz: undefined,
    agents: undefined,
    client: [],
    verbose: false,
  });
});

test('a flag given twice: the last counts, but a repeatable one keeps every value in order', () => {
  const v = values(['--store', 'a', '--store', 'b', '--client', 'x', '--client=y', '--agents', ' a, ,b ']);
  expect(v.store).toBe('b');
  expect(v.client).toEqual(['x', 'y']);
  expect(v.agents).toEqual(['a', 'b']);
  expect(values(['--agents', '']).agents).toEqual([]);
});

test('the environment stands in for a flag not given; the flag wins over it', () => {
  process.env.TEST_FLAGS_NAME = 'from-env';
  expect(values([]).name).toBe('from-env');
  expect(values(['--name', 'given']).name).toBe('given');
});

test('each parse starts afresh', () => {
  expect(values(['--client', 'x', '--verbose']).client).toEqual(['x']);
  expect(values([])).toMatchObject({ client: [], verbose: false });
});

test.each([
  [['--cap-bytes', 'lots'], "--cap-bytes must be a whole number, got 'lots'"],
  [['--cap-bytes', '-1'], "--cap-bytes must be a whole number, got '-1'"],
  [['--cap-bytes', '1e6'], "--cap-bytes must be a whole number, got '1e6'"],
  [
    ['--cap-bytes', '99999999999999999999'],
    "--cap-bytes must be a whole number of at most 9007199254740991, got '99999999999999999999'",
  ],
  [['--metrics-port', '70000'], "--metrics-port must be a whole number from 0 to 65535, got '70000'"],
  [['--tick-ms', '50'], "--tick-ms must be a whole number from 100 to 60000 (the tick is 100 ms), got '50'"],
  [['--queries', '0'], "--queries must be a whole number of at least 1, got '0'"],
  [['--listen', 'nowhere'], "--listen must be HOST:PORT, got 'nowhere'"],
  [['--listen', 'h:99999'], '--listen h:99999: the port must be from 0 to 65535'],
  [['--mode', 'loose'], "--mode takes bound or shared, got 'loose'"],
  [['--authz', 'rbac'], "--authz takes kubernetes (reading needs RBAC), got 'rbac'"],
  [['--stor', 'x'], "unknown option '--stor'\n(Did you mean --store?)"],
  [['--store'], "option '--store <DIR>' argument missing"],
  [['--store', 'x', 'extra'], "unexpected argument 'extra': retrace-test takes only flags (--name VALUE)"],
])('%j is refused: %s', (args, message) => {
  expect(refused(args)).toBe(message);
});

test('IPv6 addresses in brackets are HOST:PORT', () => {
  expect(values(['--listen', '[::1]:7443']).listen).toBe('[::1]:7443');
});

test('--help lists every flag with its value, default and environment, and the epilog, 80 columns wide', () => {
  const r = parser.parse(['--store', 'x', '--help']);
  expect('help' in r).toBe(true);
  const help = parser.help();
  expect(help).toMatch(/^Usage: retrace-test \[options\]\n\nA test daemon\.\n/);
  for (const name of Object.keys(FLAGS)) expect(help).toContain(`--${name}`);
  expect(help).toMatch(/--metrics-port <PORT>/);
  expect(help).toMatch(/--name <NAME> +who this is \(default: "me", env: TEST_FLAGS_NAME\)/);
  expect(help).toMatch(/choices: "bound", "shared"/);
  expect(help).toMatch(/a client \(repeatable\)/);
  expect(help).toMatch(/-h, --help +print this help and exit/);
  expect(help).toContain('With --store every flag and more words');
  expect(Math.max(...help.split('\n').map((l) => l.length))).toBeLessThanOrEqual(80);
  expect(parser.parse(['-h'])).toEqual({ help });
});
