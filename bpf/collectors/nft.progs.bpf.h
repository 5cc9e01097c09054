/* The nft collector's programs. Where kprobes exist: __nft_trace_packet, the function nftables
 * calls for each traced rule, policy and return; it reads the decision into nft_stash, then
 * hands the packet to chain(), which writes one record with both. Elsewhere: nftables sends a
 * trace message over netlink while it evaluates the rule; the moment it is queued to one of
 * retrace's sockets (sock:sk_data_ready, in the packet's own context) is copied with its time and
 * CPU into a record of its own, so the verdict can be placed exactly among the packet's other
 * events. */
#ifndef __RETRACE_NFT_PROGS_BPF_H
#define __RETRACE_NFT_PROGS_BPF_H

#include "chain.bpf.h"

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

#define RETRACE_NFT_MSG_MAX 512

/* An nftables trace message as the kernel queued it to one of retrace's netlink sockets, with
 * the kernel time and CPU it was sent at: the rule was evaluated right then, on that CPU. Its
 * first fields are retrace_event's (a test checks); present says it is nft's own record. */
struct retrace_nft_msg {
	__u16 version;
	__u16 size;
	__u32 probe_id;
	__u32 present;
	__u32 cpu;
	__u64 timestamp;
	__u32 netns_inum;
	__u32 msg_len;		/* full message length (msg holds at most RETRACE_NFT_MSG_MAX) */
	__u32 capture_len;
	__u32 pad;
	__u8 msg[RETRACE_NFT_MSG_MAX];
};
RETRACE_BTF_TYPE(retrace_nft_msg);

/* Cookies (SO_COOKIE) of retrace's NFNLGRP_NFTRACE sockets. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u8);
} nft_sockets SEC(".maps");

static __always_inline int nft_msg_ready(struct sock *sk, struct bpf_map *rb)
{
	__u64 cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	struct sk_buff_head *queue = &sk->sk_receive_queue;
	struct retrace_nft_msg *m;
	struct sk_buff *skb;
	unsigned char *data;
	__u32 len;
	__u64 n;

	if (!bpf_map_lookup_elem(&nft_sockets, &cookie))
		return 0;
	/* The message just queued is the queue's tail. */
	skb = BPF_CORE_READ(queue, prev);
	if (!skb || (void *)skb == (void *)queue)
		return 0;
	data = BPF_CORE_READ(skb, data);
	len = BPF_CORE_READ(skb, len);
	m = bpf_ringbuf_reserve(rb, sizeof(*m), 0);
	if (!m)
		return 0;
	m->version = RETRACE_EVENT_VERSION;
	m->size = sizeof(*m);
	m->probe_id = 0;
	m->present = SEC_OWN_RECORD | SEC_PART(nft);
	m->cpu = bpf_get_smp_processor_id();
	m->timestamp = bpf_ktime_get_ns();
	m->netns_inum = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	m->msg_len = len;
	m->pad = 0;
	n = copy_bytes(m->msg, len, RETRACE_NFT_MSG_MAX, data);
	m->capture_len = n;
	bpf_ringbuf_submit(m, 0);
	return 0;
}

/* sock:sk_data_ready: an nftables trace message reached one of retrace's sockets. */
SEC("raw_tp")
int nft_trace_ready(struct bpf_raw_tracepoint_args *ctx)
{
	return nft_msg_ready((struct sock *)ctx->args[0], (struct bpf_map *)&events);
}

#endif
