/* The ct collector: the packet's conntrack entry (skb->_nfct) and its parent, copied into the
 * record's ct part (hooks: bpf/collectors/README.md). */
#ifndef __RETRACE_CT_BPF_H
#define __RETRACE_CT_BPF_H

#include "compat.bpf.h"
#include "event.h"

/* A conntrack tuple, protocol-neutral: ports (or ICMP id / type+code) as the kernel stores them,
 * in network byte order. */
struct retrace_ct_tuple {
	__u8 src[16];
	__u8 dst[16];
	__u16 src_all;		/* source port, or ICMP id */
	__u16 dst_all;		/* destination port, or ICMP type (low byte) and code */
	__u16 l3num;		/* AF_INET / AF_INET6 */
	__u8 protonum;
	__u8 pad;
};

enum retrace_ct_flags {
	CT_F_ZONE = 1 << 0,	/* the kernel has conntrack zones */
	CT_F_MARK = 1 << 1,	/* ... connection marks */
	CT_F_LABELS = 1 << 2,	/* the entry carries labels */
	CT_F_UNTRACKED = 1 << 3,	/* the packet is marked untracked (notrack) */
};
RETRACE_BTF_ENUM(retrace_ct_flags);

struct retrace_ct_conn {
	struct retrace_ct_tuple orig;
	struct retrace_ct_tuple reply;
	__u64 status;
	__u32 mark;
	__u32 sctp_vtag_orig;
	__u32 sctp_vtag_reply;
	__u16 zone_id;
	__u8 zone_dir;
	__u8 proto_state;	/* TCP or SCTP conntrack state */
	__u8 flags;
	__u8 pad[7];
	__u8 labels[16];
};

/* The record's ct part. */
struct retrace_ct {
	struct retrace_ct_conn conn;
	struct retrace_ct_conn parent;	/* when has_parent */
	__u8 info;		/* enum ip_conntrack_info: NEW, ESTABLISHED, RELATED, ... _REPLY */
	__u8 has_parent;	/* the entry has a parent (master) connection */
	__u8 pad[6];
};

/* Records of this load carry the ct part. */
const volatile bool col_ct = false;

/* skb->_nfct keeps enum ip_conntrack_info in its low bits (NFCT_INFOMASK). */
#define RETRACE_NFCT_INFOMASK 7UL
#define RETRACE_CT_UNTRACKED 7	/* IP_CT_UNTRACKED */
/* Room for the target kernel's struct nf_conn (248 bytes on 6.x). */
#define CT_SNAPSHOT_MAX 384

/* One nf_conn copy per CPU: too large for the stack next to the sk_buff snapshot. Fields are
 * then read from the copy at their CO-RE-relocated offsets, one helper call per connection. */
struct ct_scratch {
	char bytes[CT_SNAPSHOT_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ct_scratch);
} ct_scratch SEC(".maps");

static __always_inline void ct_tuple(const struct nf_conntrack_tuple *t, struct retrace_ct_tuple *out)
{
	__builtin_memcpy(out->src, &t->src.u3, 16);
	__builtin_memcpy(out->dst, &t->dst.u3, 16);
	out->src_all = t->src.u.all;
	out->dst_all = t->dst.u.all;
	out->l3num = t->src.l3num;
	out->protonum = t->dst.protonum;
}

/* Fills one connection from kernel memory and gives its parent (master), NULL when none. */
static __always_inline bool ct_conn(struct nf_conn *kct, struct retrace_ct_conn *c, struct nf_conn **master)
{
	__u32 zero = 0;
	struct ct_scratch *scratch = bpf_map_lookup_elem(&ct_scratch, &zero);
	__u32 size = bpf_core_type_size(struct nf_conn);
	const struct nf_conn *ct;
	struct nf_ct_ext *ext;

	/* Ring buffer memory is not zeroed. */
	__builtin_memset(c, 0, sizeof(*c));
	*master = NULL;
	if (!scratch)
		return false;
	if (size > CT_SNAPSHOT_MAX)
		size = CT_SNAPSHOT_MAX;
	if (bpf_probe_read_kernel(scratch->bytes, size, kct))
		return false;
	ct = (const struct nf_conn *)scratch->bytes;

	ct_tuple(&ct->tuplehash[IP_CT_DIR_ORIGINAL].tuple, &c->orig);
	ct_tuple(&ct->tuplehash[IP_CT_DIR_REPLY].tuple, &c->reply);
	c->status = ct->status;
	if (bpf_core_field_exists(ct->mark)) {
		c->mark = ct->mark;
		c->flags |= CT_F_MARK;
	}
	if (bpf_core_field_exists(ct->zone)) {
		c->zone_id = ct->zone.id;
		c->zone_dir = ct->zone.dir;
		c->flags |= CT_F_ZONE;
	}
	if (c->orig.protonum == IPPROTO_TCP) {
		c->proto_state = ct->proto.tcp.state;
	} else if (c->orig.protonum == IPPROTO_SCTP && bpf_core_field_exists(ct->proto.sctp)) {
		c->proto_state = ct->proto.sctp.state;
		c->sctp_vtag_orig = ct->proto.sctp.vtag[IP_CT_DIR_ORIGINAL];
		c->sctp_vtag_reply = ct->proto.sctp.vtag[IP_CT_DIR_REPLY];
	}
	/* Labels live in an extension, at an offset the extension header gives (0: none). */
	ext = ct->ext;
	if (ext && bpf_core_enum_value_exists(enum nf_ct_ext_id, NF_CT_EXT_LABELS)) {
		__u32 id = bpf_core_enum_value(enum nf_ct_ext_id, NF_CT_EXT_LABELS);
		__u32 at = bpf_core_field_offset(struct nf_ct_ext, offset);
		__u8 off = 0;

		if (id < 16 && !bpf_probe_read_kernel(&off, 1, (__u8 *)ext + at + (id & 15)) && off &&
		    !bpf_probe_read_kernel(c->labels, sizeof(c->labels), (__u8 *)ext + off))
			c->flags |= CT_F_LABELS;
	}
	*master = ct->master;
	return true;
}

/* The ct part of the record; none when the packet has no conntrack entry (yet). */
static __always_inline bool ct_fill(void *ctx, const struct sk_buff *s, struct retrace_ct *part)
{
	unsigned long nfct;
	struct nf_conn *parent = NULL, *grandparent;

	if (!bpf_core_field_exists(s->_nfct))
		return false;
	nfct = s->_nfct;
	if (!nfct)
		return false;
	part->info = nfct & RETRACE_NFCT_INFOMASK;
	part->has_parent = 0;
	if (part->info == RETRACE_CT_UNTRACKED) {
		__builtin_memset(&part->conn, 0, sizeof(part->conn));
		part->conn.flags = CT_F_UNTRACKED;
		return true;
	}
	if (!ct_conn((struct nf_conn *)(nfct & ~RETRACE_NFCT_INFOMASK), &part->conn, &parent))
		return false;
	/* The parent's own parent is not followed. */
	if (parent && ct_conn(parent, &part->parent, &grandparent))
		part->has_parent = 1;
	return true;
}

#endif
