// The record's nft part (struct retrace_nft in bpf/collectors/nft.bpf.h, written by the
// __nft_trace_packet kprobe) -> the Nft section.
import type { StructLayout } from '@retrace/ebpf-loader';
import type { Nft } from '@retrace/events';
import { cstr, requireOffsets } from '../../decode/record-header.js';
import { RetraceNftFlags as F } from '../../gen/probe-skeleton.js';
import { FAMILIES, verdictName } from '../../nft/trace-message.js';

const NAME_MAX = 64;

export class NftDecoder {
  private readonly o: Record<string, number>;

  constructor(layout: StructLayout) {
    this.o = requireOffsets(layout, [
      'table',
      'chain',
      'verdict_chain',
      'table_handle',
      'chain_handle',
      'rule_handle',
      'verdict',
      'family',
      'flags',
    ]);
  }

  /** The Nft section of a record whose nft part starts at `at`. */
  decode(view: DataView, buf: Buffer, at: number): Nft {
    const o = this.o as Record<string, number>;
    const flags = view.getUint8(at + (o['flags'] as number));
    const family = view.getUint8(at + (o['family'] as number));
    const nft: Nft = {
      table_name: cstr(buf, at + (o['table'] as number), NAME_MAX),
      chain_name: cstr(buf, at + (o['chain'] as number), NAME_MAX),
      verdict: verdictName(view.getInt32(at + (o['verdict'] as number), true)),
      table_handle: view.getBigUint64(at + (o['table_handle'] as number), true),
      chain_handle: view.getBigUint64(at + (o['chain_handle'] as number), true),
      policy: (flags & F.POLICY) !== 0,
      family: FAMILIES[family] ?? String(family),
    };
    if (flags & F.VCHAIN) nft.verdict_chain_name = cstr(buf, at + (o['verdict_chain'] as number), NAME_MAX);
    if (flags & F.RULE) nft.rule_handle = view.getBigUint64(at + (o['rule_handle'] as number), true);
    return nft;
  }
}
