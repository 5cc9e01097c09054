/* Test probe: reports the arguments of the retrace_test:hit USDT probe. */
#include "compat.bpf.h"
#include <bpf/usdt.bpf.h>

char LICENSE[] SEC("license") = "GPL";

struct usdt_record {
	__s64 counter;
	__s64 magic;
	__u32 pid;
	__u32 pad;
	__u64 cookie;
};

RETRACE_BTF_TYPE(usdt_record);

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");

SEC("usdt")
int BPF_USDT(on_hit, long counter, long magic)
{
	struct usdt_record *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);

	if (!r)
		return 0;
	r->counter = counter;
	r->magic = magic;
	r->pid = bpf_get_current_pid_tgid() >> 32;
	r->pad = 0;
	r->cookie = bpf_usdt_cookie(ctx);
	bpf_ringbuf_submit(r, 0);
	return 0;
}
