/* Test programs for attach kinds whose effect is read back through globals. */
#include "compat.bpf.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 target_tgid = 0;

__u64 raw_tp_cookie = 0;
__u64 raw_tp_hits = 0;
__u64 kprobe_hits = 0;
__u64 uprobe_hits = 0;
__u64 uprobe_last_arg = 0;

/* Attached to sys_enter with a cookie: records it for calls made by the test process. */
SEC("raw_tp")
int record_cookie(void *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	raw_tp_cookie = bpf_get_attach_cookie(ctx);
	__sync_fetch_and_add(&raw_tp_hits, 1);
	return 0;
}

SEC("raw_tp")
int count_raw_tp(void *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) == target_tgid)
		__sync_fetch_and_add(&raw_tp_hits, 1);
	return 0;
}

SEC("kprobe")
int count_kprobe(struct pt_regs *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) == target_tgid)
		__sync_fetch_and_add(&kprobe_hits, 1);
	return 0;
}

/* Attached as a uprobe to tick(long) of the USDT test target. */
SEC("uprobe")
int BPF_KPROBE(count_uprobe, long arg)
{
	__sync_fetch_and_add(&uprobe_hits, 1);
	uprobe_last_arg = arg;
	return 0;
}

/* Replaced before load by the instruction-editing test. */
SEC("raw_tp")
int placeholder(void *ctx)
{
	return 1;
}
