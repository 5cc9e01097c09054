/* The nft collector's part of the record: an nftables decision, read by the __nft_trace_packet
 * kprobe (nft.progs.bpf.h) into nft_stash and copied into the record of the same hit (hooks:
 * bpf/collectors/README.md). Without kprobes, verdicts come as records of their own instead. */
#ifndef __RETRACE_NFT_BPF_H
#define __RETRACE_NFT_BPF_H

#include "compat.bpf.h"
#include "event.h"

#define RETRACE_NFT_NAME_MAX 64

enum retrace_nft_flags {
	NFT_F_RULE = 1 << 0,	/* a rule decided (rule_handle is set) */
	NFT_F_POLICY = 1 << 1,	/* the base chain's policy decided */
	NFT_F_VCHAIN = 1 << 2,	/* the verdict names a chain (jump, goto) */
};
RETRACE_BTF_ENUM(retrace_nft_flags);

/* An nftables decision, read at __nft_trace_packet where kprobes exist (retis's way). */
struct retrace_nft {
	char table[RETRACE_NFT_NAME_MAX];
	char chain[RETRACE_NFT_NAME_MAX];
	char verdict_chain[RETRACE_NFT_NAME_MAX];
	__u64 table_handle;
	__u64 chain_handle;
	__u64 rule_handle;
	__s32 verdict;		/* NF_* (>= 0) or NFT_* (< 0) code */
	__u8 family;		/* NFPROTO_* of the table */
	__u8 flags;
	__u16 pad;
};

/* Records of this load carry the nft part (the load of the __nft_trace_packet kprobe). */
const volatile bool col_nft = false;

/* The decision the kprobe read, for the record of the same hit. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct retrace_nft);
} nft_stash SEC(".maps");

static __always_inline bool nft_fill(void *ctx, const struct sk_buff *s, struct retrace_nft *part)
{
	__u32 zero = 0;
	struct retrace_nft *n = bpf_map_lookup_elem(&nft_stash, &zero);

	if (!n)
		return false;
	__builtin_memcpy(part, n, sizeof(*part));
	return true;
}

#endif
