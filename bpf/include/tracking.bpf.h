/* skb-tracking: a packet's id (its first data buffer's address and when it was first seen) kept
 * by data buffer and by skb, so that every record of the packet carries it through clones, head
 * reallocation, NAT and encapsulation; forgotten where the packet is freed. Part of the core
 * (chain.bpf.h): whether a record is written at all depends on it.
 *
 * The two tables are set-associative caches in array maps (track_table.bpf.h), not hash maps:
 * a lookup is an inlined array access and a compare of four keys, an insert or a delete a few
 * stores, where a hash map's insert and delete cost a few hundred ns each (docs/cost/bpf.md). */
#ifndef __RETRACE_TRACKING_BPF_H
#define __RETRACE_TRACKING_BPF_H

#include "compat.bpf.h"
#include "event.h"
#include "track_table.bpf.h"

/* The collectors' switches are off unless the agent turns them on (agent/src/collectors/). */
const volatile bool col_tracking = false;

/* Tracking id by data buffer (clones share it) ... */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TRACK_SETS);
	__type(key, __u32);
	__type(value, struct track_set);
} tracking SEC(".maps");

/* ... and by skb, to re-key an skb whose head was reallocated (no kprobe on pskb_expand_head
 * needed: the skb is found under its old head's id the next time a probe sees it). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TRACK_SETS);
	__type(key, __u32);
	__type(value, struct track_set);
} skb_ids SEC(".maps");

/* How many entries both tables hold, as far as this code knows: incremented for each key it
 * adds, decremented for each it deletes. Entries another key takes over are never subtracted,
 * so it can only be too high: 0 means nothing is followed for sure. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __s64);
} followed SEC(".maps");

/* Only loads with a filter read the count (tracked()): without one, nobody pays for an atomic
 * add on a cache line both CPUs write. */
const volatile bool count_followed = false;

static __always_inline void followed_add(__s64 n)
{
	__u32 zero = 0;
	__s64 *c;

	if (!count_followed)
		return;
	c = bpf_map_lookup_elem(&followed, &zero);
	if (c)
		__sync_fetch_and_add(c, n);
}

static __always_inline bool following(void)
{
	__u32 zero = 0;
	__s64 *c = bpf_map_lookup_elem(&followed, &zero);

	return !c || *c > 0;
}

static __always_inline bool track(struct sk_buff *skb, const struct sk_buff *s, struct retrace_event *e, __u8 flags,
				  __u64 now)
{
	__u64 head = (__u64)s->head;
	__u64 skbp = (__u64)skb;
	struct track_info *ti, *known;
	__u64 orig_head, ts;

	ti = track_find(&tracking, head);
	/* The same buffer under another skb that does not share it (not a clone): the buffer was
	 * freed where no probe saw it and reused for a new packet. */
	if (ti && ti->skb != skbp && !BPF_CORE_READ_BITFIELD(s, cloned)) {
		if (track_delete(&tracking, head))
			followed_add(-1);
		ti = NULL;
	}
	/* The usual hit: this skb with this head, seen before; its skb entry was written when the
	 * head's entry came to name it (below), so one lookup is all. */
	if (ti && ti->skb == skbp) {
		ti->last_seen = now;
		e->skb = skbp;
		e->orig_head = ti->orig_head;
		e->track_ts = ti->ts;
		e->present |= SEC_TRACKING;
		return true;
	}
	known = track_find(&skb_ids, skbp);
	if (ti) {
		ti->last_seen = now;
		ti->skb = skbp;
		orig_head = ti->orig_head;
		ts = ti->ts;
	} else if (known && known->head != head) {
		/* Same skb, new data buffer: keep its id under the new head. */
		orig_head = known->orig_head;
		ts = known->ts;
	} else {
		if (flags & PROBE_F_NO_CREATE)
			return false;
		orig_head = head;
		ts = now;
	}
	if (!ti && track_put(&tracking, head, orig_head, ts, now, head, skbp) & TRACK_CLAIMED)
		followed_add(1);
	e->skb = skbp;
	e->orig_head = orig_head;
	e->track_ts = ts;
	e->present |= SEC_TRACKING;
	/* Remember the id under this skb too; in place when it is already there. */
	if (known && known->orig_head == orig_head && known->ts == ts) {
		known->head = head;
		known->last_seen = now;
		return true;
	}
	if (track_put(&skb_ids, skbp, orig_head, ts, now, head, skbp) & TRACK_CLAIMED)
		followed_add(1);
	return true;
}

/* A freeing point: the skb is gone; its head too when this was the last reference to it (not
 * cloned, or the last of the clones: the data reference count is 1). A head left behind would
 * give its id to the next packet that gets the same buffer. */
static __always_inline void untrack(struct sk_buff *skb, const struct sk_buff *s)
{
	unsigned char *headp = s->head;
	struct skb_shared_info *shinfo = KPTR(struct skb_shared_info, headp + s->end);
	__u64 head = (__u64)headp;
	__u64 skbp = (__u64)skb;

	if (!BPF_CORE_READ_BITFIELD(s, cloned) || (KREAD(shinfo, dataref.counter) & 0xffff) == 1) {
		if (track_delete(&tracking, head))
			followed_add(-1);
	} else {
		/* A clone goes, its head stays: the head's entry must stop naming this skb, or a new
		 * clone at the same address would be taken for one whose skb entry is written. */
		struct track_info *ti = track_find(&tracking, head);

		if (ti && ti->skb == skbp)
			ti->skb = 0;
	}
	if (track_delete(&skb_ids, skbp))
		followed_add(-1);
}

/* skb_free_head (kprobe): the buffer itself is freed, whoever held it; the skb may live on with
 * a new buffer (pskb_expand_head), so its skb -> id entry stays to carry the id over. */
static __always_inline void forget_head(const struct sk_buff *s)
{
	if (track_delete(&tracking, (__u64)s->head))
		followed_add(-1);
}

/* Whether the packet is already followed (then filters no longer apply: it stays followed
 * through NAT, encapsulation and head reallocation even when its headers stop matching). While
 * nothing is followed (the count of entries is 0), no table is looked at. */
static __always_inline bool tracked(const struct sk_buff *s, __u64 skbp)
{
	if (!following())
		return false;
	return track_find(&tracking, (__u64)s->head) || track_find(&skb_ids, skbp);
}

#endif
