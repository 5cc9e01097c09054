/* The base record's sections of the dev, ns and skb collectors, read from the skb snapshot
 * chain_emit() takes. Their fields are the record's own (event.h), not parts: every record
 * reserves them. */
#ifndef __RETRACE_SECTIONS_BPF_H
#define __RETRACE_SECTIONS_BPF_H

#include "compat.bpf.h"
#include "event.h"

const volatile bool col_skb = false;
const volatile bool col_packet = false;
const volatile bool col_dev = false;
const volatile bool col_ns = false;

static __always_inline void fill_dev_ns(const struct sk_buff *s, struct retrace_event *e)
{
	struct net_device *dev = s->dev;
	struct net *net = NULL;

	if (col_dev && dev) {
#ifdef RETRACE_DIRECT_READS
		/* Names are NUL-padded in the kernel; userspace reads up to the first NUL. */
		__builtin_memcpy(e->dev_name, dev->name, sizeof(e->dev_name));
#else
		bpf_probe_read_kernel_str(e->dev_name, sizeof(e->dev_name), dev->name);
#endif
		e->ifindex = KREAD(dev, ifindex);
		e->present |= SEC_DEV;
		e->rx_ifindex = s->skb_iif;
		if (e->rx_ifindex)
			e->present |= SEC_RX_IFINDEX;
	}
	if (!col_ns)
		return;
	if (dev)
		net = KREAD(dev, nd_net.net);
	if (!net) {
		struct sock *sk = s->sk;

		if (sk)
			net = KREAD(sk, __sk_common.skc_net.net);
	}
	if (!net)
		return;
	e->netns_inum = KREAD(net, ns.inum);
	e->present |= SEC_NETNS;
	if (bpf_core_field_exists(net->net_cookie)) {
		e->netns_cookie = KREAD(net, net_cookie);
		e->present |= SEC_NETNS_COOKIE;
	}
}

static __always_inline void fill_skb(const struct sk_buff *s, struct retrace_event *e)
{
	unsigned char *head = s->head;
	struct skb_shared_info *shinfo = KPTR(struct skb_shared_info, head + s->end);

	e->len = s->len;
	e->data_len = s->data_len;
	e->hash = s->hash;
	e->csum = s->csum;
	e->priority = s->priority;
	e->mark = s->mark;
	e->protocol = bpf_ntohs(s->protocol);
	e->users = s->users.refs.counter;
	e->ip_summed = BPF_CORE_READ_BITFIELD(s, ip_summed);
	e->csum_level = BPF_CORE_READ_BITFIELD(s, csum_level);
	e->nohdr = BPF_CORE_READ_BITFIELD(s, nohdr);
	e->cloned = BPF_CORE_READ_BITFIELD(s, cloned);
	e->fclone = BPF_CORE_READ_BITFIELD(s, fclone);
	e->dataref = KREAD(shinfo, dataref.counter);
	e->nr_frags = KREAD(shinfo, nr_frags);
	e->gso_size = KREAD(shinfo, gso_size);
	e->gso_segs = KREAD(shinfo, gso_segs);
	e->gso_type = KREAD(shinfo, gso_type);
	e->vlan_tci = s->vlan_tci;
	e->vlan_proto = bpf_ntohs(s->vlan_proto);
	if (e->vlan_proto)
		e->present |= SEC_VLAN;
	e->present |= SEC_SKB;
}

/* Linear packet bytes from the link-layer header, or a zeroed Ethernet header followed by the
 * network header when this point of the stack has no (valid) link layer. */
static __always_inline void fill_packet(const struct sk_buff *s, struct retrace_event *e)
{
	unsigned char *head = s->head;
	__u16 mac = s->mac_header;
	__u16 net = s->network_header;
	__u32 tail = s->tail;
	__u32 data_off = s->data - head;
	__u32 len = s->len;
	__u64 n;

	if (mac != (__u16)~0U && mac < net) {
		if (tail <= mac)
			return;
		n = copy_bytes(e->packet, tail - mac, RETRACE_PACKET_MAX, head + mac);
		if (!n)
			return;
		e->capture_len = n;
		/* Full length from the link layer; data_off > mac when headers were already pulled. */
		e->pkt_len = len + (data_off > mac ? data_off - mac : 0);
	} else if (net && net != (__u16)~0U) {
		__u16 proto = s->protocol;

		if (tail <= net)
			return;
		n = copy_bytes(e->packet + 14, tail - net, RETRACE_PACKET_MAX - 14, head + net);
		if (!n)
			return;
		/* 12 zero bytes of addresses, then the ethertype (already in network order) */
		__builtin_memset(e->packet, 0, 12);
		e->packet[12] = proto & 0xff;
		e->packet[13] = proto >> 8;
		e->capture_len = n + 14;
		e->pkt_len = len + (data_off > net ? data_off - net : 0) + 14;
		e->present |= SEC_FAKE_ETH;
	} else {
		return;
	}
	e->present |= SEC_PACKET;
}

#endif
