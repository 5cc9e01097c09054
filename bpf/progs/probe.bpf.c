/* retrace's generic probe programs, one per attach kind: each finds the skb (and drop reason)
 * argument its probe's config points at and hands it to chain() (bpf/include/chain.bpf.h),
 * which writes the record with every collector's part. Collectors' own programs come from
 * bpf/collectors/NAME.progs.bpf.h, through the list bpf/Makefile generates. */
#include "chain.bpf.h"
#include <bpf/usdt.bpf.h>

char LICENSE[] SEC("license") = "GPL";

/* Arguments saved at function entry for the matching return probe. */
struct kret_key {
	__u64 pid_tgid;
	__u32 probe_id;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct kret_key);
	__type(value, __u64[2]);
} kret_args SEC(".maps");

/* Raw tracepoint arguments. A raw tracepoint program may only read as many arguments as the
 * tracepoint it is attached to has (the kernel checks at attach), so there is one program per
 * argument count and the switch below only keeps the cases below NARGS. */
static __always_inline __u64 arg_at(__u64 *args, __u32 i, const __u32 nargs)
{
	switch (i) {
	case 0: return nargs > 0 ? ARG(args, 0) : 0;
	case 1: return nargs > 1 ? ARG(args, 1) : 0;
	case 2: return nargs > 2 ? ARG(args, 2) : 0;
	case 3: return nargs > 3 ? ARG(args, 3) : 0;
	case 4: return nargs > 4 ? ARG(args, 4) : 0;
	case 5: return nargs > 5 ? ARG(args, 5) : 0;
	case 6: return nargs > 6 ? ARG(args, 6) : 0;
	case 7: return nargs > 7 ? ARG(args, 7) : 0;
	case 8: return nargs > 8 ? ARG(args, 8) : 0;
	case 9: return nargs > 9 ? ARG(args, 9) : 0;
	case 10: return nargs > 10 ? ARG(args, 10) : 0;
	case 11: return nargs > 11 ? ARG(args, 11) : 0;
	}
	return 0;
}

static __always_inline int from_args(void *ctx, __u64 *args, __u32 probe_id, const __u32 nargs)
{
	struct probe_config *cfg = bpf_map_lookup_elem(&probe_configs, &probe_id);
	__u64 skb = 0, reason = 0;

	if (!cfg)
		return 0;
	if (cfg->skb_arg)
		skb = arg_at(args, cfg->skb_arg - 1, nargs);
	if (cfg->reason_arg)
		reason = arg_at(args, cfg->reason_arg - 1, nargs);
	return chain(ctx, probe_id, skb, reason);
}

#define RAW_TP_PROBE(n)                                                          \
	SEC("retrace/raw_tp")                                                    \
	int probe_raw_tp_##n(struct bpf_raw_tracepoint_args *ctx)                \
	{                                                                        \
		return from_args(ctx, (__u64 *)ctx->args, probe_id_of(ctx), n); \
	}

RAW_TP_PROBE(1)
RAW_TP_PROBE(2)
RAW_TP_PROBE(3)
RAW_TP_PROBE(4)
RAW_TP_PROBE(5)
RAW_TP_PROBE(6)
RAW_TP_PROBE(7)
RAW_TP_PROBE(8)
RAW_TP_PROBE(9)
RAW_TP_PROBE(10)
RAW_TP_PROBE(11)
RAW_TP_PROBE(12)

/* fentry/fexit: one load per target. Arguments are read with bpf_get_func_arg (inlined by the
 * verifier), not from the context: loaded from it, the verifier types an sk_buff * against the
 * target and allows no arithmetic on it (tracking hashes the address). */
static __always_inline int from_func_args(void *ctx, __u32 probe_id)
{
	struct probe_config *cfg = bpf_map_lookup_elem(&probe_configs, &probe_id);
	__u64 skb = 0, reason = 0;

	if (!cfg)
		return 0;
	if (cfg->skb_arg && bpf_get_func_arg(ctx, cfg->skb_arg - 1, &skb))
		skb = 0;
	if (cfg->reason_arg && bpf_get_func_arg(ctx, cfg->reason_arg - 1, &reason))
		reason = 0;
	return chain(ctx, probe_id, skb, reason);
}

SEC("retrace/fentry")
int probe_fentry(__u64 *ctx)
{
	return from_func_args(ctx, rodata_probe_id);
}

SEC("retrace/fexit")
int probe_fexit(__u64 *ctx)
{
	return from_func_args(ctx, rodata_probe_id);
}

static __always_inline __u64 regs_arg(struct pt_regs *ctx, __u32 i)
{
	switch (i) {
	case 0: return REGS_ARG(ctx, __PT_PARM1_REG);
	case 1: return REGS_ARG(ctx, __PT_PARM2_REG);
	case 2: return REGS_ARG(ctx, __PT_PARM3_REG);
	case 3: return REGS_ARG(ctx, __PT_PARM4_REG);
	case 4: return REGS_ARG(ctx, __PT_PARM5_REG);
	}
	return 0;
}

/* The skb and drop reason arguments a probe's config points at. */
static __always_inline void regs_skb_reason(struct pt_regs *ctx, const struct probe_config *cfg, __u64 *skb,
					    __u64 *reason)
{
	*skb = cfg->skb_arg ? regs_arg(ctx, cfg->skb_arg - 1) : 0;
	*reason = cfg->reason_arg ? regs_arg(ctx, cfg->reason_arg - 1) : 0;
}

static __always_inline int from_regs(struct pt_regs *ctx, __u32 probe_id)
{
	struct probe_config *cfg = bpf_map_lookup_elem(&probe_configs, &probe_id);
	__u64 skb, reason;

	if (!cfg)
		return 0;
	regs_skb_reason(ctx, cfg, &skb, &reason);
	return chain(ctx, probe_id, skb, reason);
}


SEC("retrace/kprobe")
int probe_kprobe(struct pt_regs *ctx)
{
	return from_regs(ctx, probe_id_of(ctx));
}

/* Kernels with kprobes but not kprobe-multi: one program for every function instead of a load
 * each, the probe found by the function's address. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4 * RETRACE_PROBES_MAX); /* functions of the same name share a probe */
	__type(key, __u64);
	__type(value, __u32);
} kprobe_ids SEC(".maps");

SEC("retrace/kprobe")
int probe_kprobe_ip(struct pt_regs *ctx)
{
	__u64 ip = bpf_get_func_ip(ctx);
	__u32 *id = bpf_map_lookup_elem(&kprobe_ids, &ip);

	/* With IBT the kprobe may sit after the function's ENDBR instruction. */
	if (!id) {
		ip -= 4;
		id = bpf_map_lookup_elem(&kprobe_ids, &ip);
	}
	return id ? from_regs(ctx, *id) : 0;
}

SEC("retrace/kprobe.multi")
int probe_kprobe_multi(struct pt_regs *ctx)
{
	return from_regs(ctx, (__u32)bpf_get_attach_cookie(ctx));
}

/* kretprobes: the entry half saves the arguments, the return half reports with them. */
static __always_inline int kret_save(struct pt_regs *ctx, __u32 probe_id)
{
	struct probe_config *cfg = bpf_map_lookup_elem(&probe_configs, &probe_id);
	struct kret_key key = { .pid_tgid = bpf_get_current_pid_tgid(), .probe_id = probe_id };
	__u64 vals[2] = {};

	if (!cfg)
		return 0;
	regs_skb_reason(ctx, cfg, &vals[0], &vals[1]);
	bpf_map_update_elem(&kret_args, &key, vals, BPF_ANY);
	return 0;
}

static __always_inline int kret_report(struct pt_regs *ctx, __u32 probe_id)
{
	struct kret_key key = { .pid_tgid = bpf_get_current_pid_tgid(), .probe_id = probe_id };
	__u64 *vals = bpf_map_lookup_elem(&kret_args, &key);
	__u64 skb, reason;

	if (!vals)
		return 0;
	skb = vals[0];
	reason = vals[1];
	bpf_map_delete_elem(&kret_args, &key);
	return chain(ctx, probe_id, skb, reason);
}

SEC("retrace/kprobe")
int probe_kretprobe_entry(struct pt_regs *ctx)
{
	return kret_save(ctx, probe_id_of(ctx));
}

SEC("retrace/kprobe")
int probe_kretprobe(struct pt_regs *ctx)
{
	return kret_report(ctx, probe_id_of(ctx));
}

SEC("retrace/kprobe.multi")
int probe_kretprobe_multi_entry(struct pt_regs *ctx)
{
	return kret_save(ctx, (__u32)bpf_get_attach_cookie(ctx));
}

SEC("retrace/kprobe.multi")
int probe_kretprobe_multi(struct pt_regs *ctx)
{
	return kret_report(ctx, (__u32)bpf_get_attach_cookie(ctx));
}

/* USDT probes given on the command line: a userspace event, no packet. */
SEC("usdt")
int probe_usdt(struct pt_regs *ctx)
{
	__u32 probe_id = (__u32)bpf_usdt_cookie(ctx);
	struct retrace_event *e;

	if (!bpf_map_lookup_elem(&probe_configs, &probe_id))
		return 0;
	e = user_event_begin(ctx, probe_id, record_size());
	if (e)
		bpf_ringbuf_submit(e, 0);
	return 0;
}

/* Generated by bpf/Makefile: every bpf/collectors/NAME.progs.bpf.h. */
#include "collector-programs.gen.h"
