// Table and chain handles for verdicts read from nftables' trace messages, which name the table
// and chain but carry no handle (the kprobe reads them from the kernel's structs). retis's
// section requires both, so they are looked up by name in the trace's namespace the way
// `nft -a` shows them, cached, and listed again when a name is not known yet.
import { spawnSync } from 'node:child_process';

export interface NftHandles {
  table: bigint;
  chain: bigint;
}

/** What one namespace holds: `family|table` -> table handle, `family|table|chain` -> chain handle. */
export interface HandleListing {
  tables: Map<string, bigint>;
  chains: Map<string, bigint>;
}

/** Lists a namespace's tables and chains; undefined when it cannot (nft missing, namespace gone). */
export type HandleLister = (netnsPath: string) => HandleListing | undefined;

/** Handle 0 is never given to a table or chain (the kernel counts from 1): "not known". */
export const UNKNOWN_HANDLE = 0n;

/** How long a name that a fresh listing did not have is not listed for again. */
const RETRY_MS = 1000;

interface NftJsonObject {
  table?: { family?: string; name?: string; handle?: number };
  chain?: { family?: string; table?: string; name?: string; handle?: number };
}

function nftJson(netnsPath: string, what: 'tables' | 'chains'): NftJsonObject[] | undefined {
  const r = spawnSync('nsenter', [`--net=${netnsPath}`, 'nft', '-j', 'list', what], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return undefined;
  try {
    return (JSON.parse(r.stdout) as { nftables?: NftJsonObject[] }).nftables ?? [];
  } catch {
    return undefined;
  }
}

/** `nft -j list tables` and `list chains` in the namespace. */
export const listWithNft: HandleLister = (netnsPath) => {
  const tables = nftJson(netnsPath, 'tables');
  const chains = tables && nftJson(netnsPath, 'chains');
  if (!tables || !chains) return undefined;
  const out: HandleListing = { tables: new Map(), chains: new Map() };
  for (const { table: t } of tables)
    if (t?.family && t.name && t.handle !== undefined) out.tables.set(`${t.family}|${t.name}`, BigInt(t.handle));
  for (const { chain: c } of chains)
    if (c?.family && c.table && c.name && c.handle !== undefined)
      out.chains.set(`${c.family}|${c.table}|${c.name}`, BigInt(c.handle));
  return out;
};

export class NftHandleCache {
  private readonly byNetns = new Map<number, HandleListing>();
  /** When a namespace was last listed (ms), so that an unknown name does not list it on every trace. */
  private readonly listedAt = new Map<number, number>();
  /** Lookups that found no handle (the table or chain went away before it was listed). */
  unknown = 0;

  constructor(
    /** The path that opens a namespace by inode, while retrace watches it. */
    private readonly pathOf: (netns: number) => string | undefined,
    private readonly list: HandleLister = listWithNft,
    private readonly now: () => number = Date.now,
  ) {}

  /** The handles of `table`/`chain` of `family` in the namespace; UNKNOWN_HANDLE for what is gone. */
  lookup(netns: number, family: string, table: string, chain: string): NftHandles {
    const tkey = `${family}|${table}`;
    const ckey = `${tkey}|${chain}`;
    let have = this.byNetns.get(netns);
    if (!have?.tables.has(tkey) || !have.chains.has(ckey)) {
      const last = this.listedAt.get(netns);
      const path = this.pathOf(netns);
      if (path && (last === undefined || this.now() - last >= RETRY_MS)) {
        this.listedAt.set(netns, this.now());
        const fresh = this.list(path);
        // Names deleted since the last listing keep their handles: their traces may still come.
        if (fresh) have = this.merge(netns, fresh);
      }
    }
    const handles = {
      table: have?.tables.get(tkey) ?? UNKNOWN_HANDLE,
      chain: have?.chains.get(ckey) ?? UNKNOWN_HANDLE,
    };
    if (handles.table === UNKNOWN_HANDLE || handles.chain === UNKNOWN_HANDLE) this.unknown++;
    return handles;
  }

  /** Forgets a namespace that is gone. */
  forget(netns: number): void {
    this.byNetns.delete(netns);
    this.listedAt.delete(netns);
  }

  private merge(netns: number, fresh: HandleListing): HandleListing {
    const old = this.byNetns.get(netns);
    if (old) {
      for (const [k, v] of fresh.tables) old.tables.set(k, v);
      for (const [k, v] of fresh.chains) old.chains.set(k, v);
      return old;
    }
    this.byNetns.set(netns, fresh);
    return fresh;
  }
}
