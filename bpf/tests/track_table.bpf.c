/* Drives the tracking tables' set-associative cache (include/track_table.bpf.h) from userspace
 * with BPF_PROG_TEST_RUN: one operation per run, read from and answered in `op`
 * (agent/test/track-table.kernel.test.ts). */
#include "compat.bpf.h"
#include "track_table.bpf.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TRACK_SETS);
	__type(key, __u32);
	__type(value, struct track_set);
} table SEC(".maps");

enum track_test_op {
	TT_FIND = 1,
	TT_INSERT,
	TT_DELETE,
};

struct track_test {
	__u64 op;
	__u64 key;
	__u64 now;	/* an insert's last_seen (and ts) */
	__u64 result;	/* find: 1 if found; insert: 0 not kept, 1 rewritten in place, 2 added; delete: 1 if deleted */
	__u64 orig_head; /* find: the entry's */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct track_test);
} op SEC(".maps");

SEC("tc")
int track_op(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct track_test *t = bpf_map_lookup_elem(&op, &zero);
	struct track_info *ti;
	int way;

	if (!t)
		return 1;
	switch (t->op) {
	case TT_FIND:
		ti = track_find(&table, t->key);
		t->result = ti != NULL;
		t->orig_head = ti ? ti->orig_head : 0;
		break;
	case TT_INSERT:
		/* as track() writes an entry */
		way = track_put(&table, t->key, t->key, t->now, t->now, t->key, 0);
		t->result = way < 0 ? 0 : way & TRACK_CLAIMED ? 2 : 1;
		break;
	case TT_DELETE:
		t->result = track_delete(&table, t->key);
		break;
	}
	return 0;
}
