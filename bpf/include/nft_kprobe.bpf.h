/* The nft collector where kprobes exist: __nft_trace_packet, the function nftables calls for
 * each traced rule, policy and return. It reads the decision into nft_stash, then hands the
 * packet to chain(), which writes one record with both. Included by probe.bpf.c after REGS_ARG. */
#ifndef __RETRACE_NFT_KPROBE_BPF_H
#define __RETRACE_NFT_KPROBE_BPF_H

/* Argument layout of __nft_trace_packet: 1 = (info, chain, type) up to 6.2;
 * 2 = (pkt, verdict, rule, info, type) from 6.3. */
const volatile __u32 nft_kprobe_layout = 1;
/* Verdicts to report: bit (code & 0xff) for NF_* codes, bit 8 - code for NFT_* codes. */
const volatile __u32 nft_verdicts_mask = 0x3;

#define RETRACE_NFT_TRACETYPE_POLICY 1

/* Up to 6.2 the trace info carries the packet, rule and verdict. */
struct nft_traceinfo___v61 {
	bool trace;
	bool nf_trace;
	const struct nft_pktinfo *pkt;
	const struct nft_base_chain *basechain;
	const struct nft_rule_dp *rule;
	const struct nft_verdict *verdict;
} __attribute__((preserve_access_index));

static __always_inline __u32 nft_verdict_bit(__s32 code)
{
	return code >= 0 ? 1U << (code & 0xff & 7) : 1U << ((8 - code) & 31);
}

SEC("retrace/kprobe")
int probe_nft_kprobe(struct pt_regs *ctx)
{
	__u32 zero = 0;
	struct retrace_nft *n = bpf_map_lookup_elem(&nft_stash, &zero);
	const struct nft_pktinfo *pkt;
	const struct nft_verdict *verdict;
	const struct nft_rule_dp *rule;
	const struct nft_base_chain *basechain;
	const struct nft_chain *ch, *target;
	const struct nft_table *table;
	__u32 type;
	bool trace, nf_trace;

	if (!n)
		return 0;
	if (nft_kprobe_layout == 1) {
		struct nft_traceinfo___v61 *info = (void *)REGS_ARG(ctx, __PT_PARM1_REG);

		ch = (void *)REGS_ARG(ctx, __PT_PARM2_REG);
		type = REGS_ARG(ctx, __PT_PARM3_REG);
		trace = BPF_CORE_READ(info, trace);
		nf_trace = BPF_CORE_READ(info, nf_trace);
		pkt = BPF_CORE_READ(info, pkt);
		verdict = BPF_CORE_READ(info, verdict);
		rule = BPF_CORE_READ(info, rule);
		basechain = BPF_CORE_READ(info, basechain);
	} else {
		struct nft_traceinfo *info = (void *)REGS_ARG(ctx, __PT_PARM4_REG);

		pkt = (void *)REGS_ARG(ctx, __PT_PARM1_REG);
		verdict = (void *)REGS_ARG(ctx, __PT_PARM2_REG);
		rule = (void *)REGS_ARG(ctx, __PT_PARM3_REG);
		type = REGS_ARG(ctx, __PT_PARM5_REG);
		trace = BPF_CORE_READ(info, trace);
		nf_trace = BPF_CORE_READ(info, nf_trace);
		basechain = BPF_CORE_READ(info, basechain);
		ch = (const struct nft_chain *)__builtin_preserve_access_index(&basechain->chain);
	}
	/* The function is entered for every packet of a traced hook; only these are reported. */
	if (!trace || !nf_trace || !pkt || !ch)
		return 0;

	__builtin_memset(n, 0, sizeof(*n));
	if (type == RETRACE_NFT_TRACETYPE_POLICY) {
		n->verdict = BPF_CORE_READ(basechain, policy);
		n->flags = NFT_F_POLICY;
	} else {
		n->verdict = verdict ? (__s32)BPF_CORE_READ(verdict, code) : -1;
		if (rule) {
			n->rule_handle = BPF_CORE_READ_BITFIELD_PROBED(rule, handle);
			n->flags = NFT_F_RULE;
		}
		target = verdict ? BPF_CORE_READ(verdict, chain) : NULL;
		if (target && (n->verdict == -3 || n->verdict == -4)) {
			bpf_probe_read_kernel_str(n->verdict_chain, sizeof(n->verdict_chain), BPF_CORE_READ(target, name));
			n->flags |= NFT_F_VCHAIN;
		}
	}
	if (!(nft_verdicts_mask & nft_verdict_bit(n->verdict)))
		return 0;
	bpf_probe_read_kernel_str(n->chain, sizeof(n->chain), BPF_CORE_READ(ch, name));
	n->chain_handle = BPF_CORE_READ(ch, handle);
	table = BPF_CORE_READ(ch, table);
	bpf_probe_read_kernel_str(n->table, sizeof(n->table), BPF_CORE_READ(table, name));
	n->table_handle = BPF_CORE_READ(table, handle);
	n->family = BPF_CORE_READ_BITFIELD_PROBED(table, family);
	return chain(ctx, probe_id_of(ctx), (__u64)BPF_CORE_READ(pkt, skb), 0);
}

#endif
