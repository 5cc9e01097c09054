/* The tracking tables (tracking.bpf.h): set-associative caches of packet ids in array maps.
 * A key (a data buffer's or an skb's address) hashes to one set of TRACK_WAYS ways; a lookup
 * compares the set's keys, an insert takes the key's way, else an empty one, else the least
 * recently seen (whose packet was most likely freed where no probe saw it). Ways are claimed
 * with a compare-and-swap, so two CPUs never write one way at once; readers need no lock: a
 * way in use by the packet at hand is its set's most recently seen, the last one given away.
 * Taking over an entry seen less than track_recent_ns ago is counted (track_evictions). */
#ifndef __RETRACE_TRACK_TABLE_BPF_H
#define __RETRACE_TRACK_TABLE_BPF_H

#include "compat.bpf.h"

#define TRACK_WAYS 4
#define TRACK_SET_BITS 14
#define TRACK_SETS (1U << TRACK_SET_BITS) /* 65536 entries per table */
/* A way being written: no address is 1. */
#define TRACK_BUSY 1ULL

struct track_info {
	__u64 orig_head;
	__u64 ts;
	__u64 last_seen;
	__u64 head;
	__u64 skb;	/* last skb seen with this head */
};
RETRACE_BTF_TYPE(track_info);

/* The keys first: a lookup reads one cache line, then the matching way's info. */
struct track_set {
	__u64 key[TRACK_WAYS];	/* 0: empty */
	struct track_info info[TRACK_WAYS];
};
RETRACE_BTF_TYPE(track_set);

/* An entry younger than this taken over by another key counts as an eviction (its packet may
 * still be in flight; its later records get a new id). Set by the agent. */
const volatile __u64 track_recent_ns = 1000000000ULL;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} track_evictions SEC(".maps");

/* Fibonacci hashing: the address's middle bits spread over the sets (its low bits are mostly
 * the allocator's alignment). */
static __always_inline __u64 track_set_of(__u64 key)
{
	return (key * 0x9E3779B97F4A7C15ULL) >> (64 - TRACK_SET_BITS);
}

static __always_inline struct track_set *track_set_get(void *table, __u64 key)
{
	/* 64 bits on the stack, of which the map reads its 4-byte key (little-endian: the low
	 * half): where the kernel types a data buffer's address as a pointer (6.16+: untrusted
	 * memory), so is the index computed from it, and a pointer may only be spilled whole. */
	__u64 i = track_set_of(key);

	return bpf_map_lookup_elem(table, &i);
}

/* The entry of key, or NULL. */
static __always_inline struct track_info *track_find(void *table, __u64 key)
{
	struct track_set *set = track_set_get(table, key);

	if (!set)
		return NULL;
#pragma unroll
	for (int w = 0; w < TRACK_WAYS; w++)
		if (set->key[w] == key)
			return &set->info[w];
	return NULL;
}

/* track_claim()'s answer, with the way's index in the low bits: the key's own way (rewrite it
 * in place), or a way claimed for it (write it, then track_publish()). */
#define TRACK_WAY_MASK 3
#define TRACK_CLAIMED 4

/* The way key's entry is to be written in: its own, else an empty one, else the set's least
 * recently seen; -1 when another CPU claimed that way first (the id is then not kept). The
 * caller writes the entry in place (no copy on the stack: the compat probe has little left). */
static __always_inline int track_claim(struct track_set *set, __u64 key, __u64 now)
{
	__u64 oldest = ~0ULL, old, *evicted;
	__u32 w = TRACK_WAYS, empty = TRACK_WAYS, lru = TRACK_WAYS, zero = 0;

#pragma unroll
	for (int i = 0; i < TRACK_WAYS; i++) {
		__u64 k = set->key[i];

		if (k == key)
			return i;
		if (k == 0) {
			if (empty == TRACK_WAYS)
				empty = i;
		} else if (k != TRACK_BUSY && set->info[i].last_seen < oldest) {
			oldest = set->info[i].last_seen;
			lru = i;
		}
	}
	w = empty < TRACK_WAYS ? empty : lru;
	if (w >= TRACK_WAYS)
		return -1;
	old = set->key[w];
	if (old == TRACK_BUSY || __sync_val_compare_and_swap(&set->key[w], old, TRACK_BUSY) != old)
		return -1;
	if (old && now - set->info[w].last_seen < track_recent_ns) {
		evicted = bpf_map_lookup_elem(&track_evictions, &zero);
		if (evicted)
			__sync_fetch_and_add(evicted, 1);
	}
	return w | TRACK_CLAIMED;
}

/* Makes a claimed way's entry, now written, key's (an atomic exchange orders the stores before
 * it). */
static __always_inline void track_publish(struct track_set *set, int way, __u64 key)
{
	__sync_lock_test_and_set(&set->key[way & TRACK_WAY_MASK], key);
}

/* Writes key's entry (in its own way, else in one claimed for it) and publishes a new one;
 * track_claim()'s answer (-1: not kept). */
static __always_inline int track_put(void *table, __u64 key, __u64 orig_head, __u64 ts, __u64 now, __u64 head,
				     __u64 skb)
{
	struct track_set *set = track_set_get(table, key);
	struct track_info *ti;
	int way = set ? track_claim(set, key, now) : -1;

	if (way < 0 || !set)
		return -1;
	ti = &set->info[way & TRACK_WAY_MASK];
	ti->orig_head = orig_head;
	ti->ts = ts;
	ti->last_seen = now;
	ti->head = head;
	ti->skb = skb;
	if (way & TRACK_CLAIMED)
		track_publish(set, way, key);
	return way;
}

/* Forgets key; whether it had an entry. */
static __always_inline bool track_delete(void *table, __u64 key)
{
	struct track_set *set = track_set_get(table, key);

	if (!set)
		return false;
#pragma unroll
	for (int w = 0; w < TRACK_WAYS; w++)
		if (set->key[w] == key)
			return __sync_val_compare_and_swap(&set->key[w], key, 0) == key;
	return false;
}

#endif
