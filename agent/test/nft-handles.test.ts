// Handles for verdicts read from trace messages: looked up by name, listed again for a new name
// (not more often than once a second), kept for tables deleted since, 0 when never seen.
import { NftHandleCache, NftMatcher, type HandleListing } from '@retrace/agent';
import { parseVerdicts } from '@retrace/spec';
import type { Event } from '@retrace/events';

const listing = (tables: [string, bigint][], chains: [string, bigint][]): HandleListing => ({
  tables: new Map(tables),
  chains: new Map(chains),
});

test('handles come from the listing of the namespace, listed again for names it did not have', () => {
  let now = 0;
  const listings = [
    listing([['ip|t', 3n]], [['ip|t|c', 2n]]),
    listing([['inet|u', 4n]], [['inet|u|d', 1n]]), // t was deleted meanwhile
  ];
  const listed: string[] = [];
  const cache = new NftHandleCache(
    (netns) => (netns === 7 ? '/run/netns/x' : undefined),
    (path) => {
      listed.push(path);
      return listings.shift();
    },
    () => now,
  );
  expect(cache.lookup(7, 'ip', 't', 'c')).toEqual({ table: 3n, chain: 2n });
  expect(cache.lookup(7, 'ip', 't', 'c')).toEqual({ table: 3n, chain: 2n });
  expect(listed).toHaveLength(1);
  // A new name within a second of the last listing is not listed for: unknown (0) for now.
  expect(cache.lookup(7, 'inet', 'u', 'd')).toEqual({ table: 0n, chain: 0n });
  now = 1500;
  expect(cache.lookup(7, 'inet', 'u', 'd')).toEqual({ table: 4n, chain: 1n });
  expect(cache.lookup(7, 'ip', 't', 'c')).toEqual({ table: 3n, chain: 2n });
  expect(listed).toHaveLength(2);
  // A namespace retrace does not watch is not listed.
  expect(cache.lookup(8, 'ip', 't', 'c')).toEqual({ table: 0n, chain: 0n });
  expect(cache.unknown).toBe(2);
});

test("the matcher writes the handles into the nft section, as retis's required fields", () => {
  const out: Event[] = [];
  const m = new NftMatcher({
    verdicts: parseVerdicts('all'),
    emitUnmatched: true,
    emit: (e) => out.push(e),
    handles: (netns, family, table, chain) => ({
      table: BigInt(netns),
      chain: BigInt(`${family}|${table}|${chain}`.length),
    }),
  });
  m.addTrace({ family: 'ip', table: 'filter', chain: 'fwd', verdict: 'drop', policy: false, id: 1 }, 10n, 0, 5);
  expect(out[0]?.nft).toMatchObject({ table_handle: 5n, chain_handle: 13n, family: 'ip' });
  // Without a lookup (unit use), the handles are the "not known" 0 retis still reads.
  const bare: Event[] = [];
  new NftMatcher({ verdicts: parseVerdicts('all'), emitUnmatched: true, emit: (e) => bare.push(e) }).addTrace(
    { family: 'ip', table: 'filter', chain: 'fwd', verdict: 'drop', policy: false, id: 1 },
    10n,
    0,
    5,
  );
  expect(bare[0]?.nft).toMatchObject({ table_handle: 0n, chain_handle: 0n });
});
