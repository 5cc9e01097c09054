/* Ring buffer producer for the delivery benchmark: each test run of a program reserves and
 * submits RECORDS_PER_RUN records of a fixed size, counting reservations that failed. */
#include "compat.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define RECORDS_PER_RUN 32

struct rec64 {
	__u64 seq;
	__u8 data[56];
};

struct rec512 {
	__u64 seq;
	__u8 data[504];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 * 1024 * 1024);
} bench_rb SEC(".maps");

__u64 produced = 0;
__u64 dropped = 0;

#define PRODUCE(type)                                                      \
	for (int i = 0; i < RECORDS_PER_RUN; i++) {                        \
		struct type *r = bpf_ringbuf_reserve(&bench_rb, sizeof(*r), 0); \
		if (!r) {                                                  \
			__sync_fetch_and_add(&dropped, 1);                 \
			continue;                                          \
		}                                                          \
		r->seq = __sync_fetch_and_add(&produced, 1);               \
		bpf_ringbuf_submit(r, 0);                                  \
	}

SEC("tc")
int produce_64(struct __sk_buff *skb)
{
	PRODUCE(rec64);
	return 0;
}

SEC("tc")
int produce_512(struct __sk_buff *skb)
{
	PRODUCE(rec512);
	return 0;
}
