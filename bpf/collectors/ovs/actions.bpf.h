/* Details of the datapath actions retis reports: the recirc action's id, the explicit drop
 * action's reason (kernels 6.4+), and the ct action's flags, zone and NAT range. The executed
 * action list holds, for ct, the module's struct ovs_conntrack_info (not the netlink request):
 * CO-RE reads it from the openvswitch module's BTF. */
#ifndef __RETRACE_OVS_ACTIONS_BPF_H
#define __RETRACE_OVS_ACTIONS_BPF_H

#include "compat.bpf.h"
#include "collectors/ovs.bpf.h"

/* enum ovs_action_attr (uapi/linux/openvswitch.h: fixed numbers) */
#define OVS_ACTION_ATTR_OUTPUT 1
#define OVS_ACTION_ATTR_RECIRC 7
#define OVS_ACTION_ATTR_CT 12
#define OVS_ACTION_ATTR_DROP 24

/* retis's ct action flags (the ct action's `flags` field means these bits). */
#define R_OVS_CT_COMMIT (1 << 0)
#define R_OVS_CT_FORCE (1 << 1)
#define R_OVS_CT_IP4 (1 << 2)
#define R_OVS_CT_IP6 (1 << 3)
#define R_OVS_CT_NAT (1 << 4)
#define R_OVS_CT_NAT_SRC (1 << 5)
#define R_OVS_CT_NAT_DST (1 << 6)
#define R_OVS_CT_NAT_RANGE_MAP_IPS (1 << 7)
#define R_OVS_CT_NAT_RANGE_PROTO_SPECIFIED (1 << 8)
#define R_OVS_CT_NAT_RANGE_PROTO_RANDOM (1 << 9)
#define R_OVS_CT_NAT_RANGE_PERSISTENT (1 << 10)
#define R_OVS_CT_NAT_RANGE_PROTO_RANDOM_FULLY (1 << 11)

/* The kernel's values: enum ovs_ct_nat (net/openvswitch/conntrack.c), NF_NAT_RANGE_* and
 * NFPROTO_* (uapi). */
#define OVS_CT_SRC_NAT___k (1 << 1)
#define OVS_CT_DST_NAT___k (1 << 2)
#define NF_NAT_RANGE_MAP_IPS___k (1 << 0)
#define NF_NAT_RANGE_PROTO_SPECIFIED___k (1 << 1)
#define NF_NAT_RANGE_PROTO_RANDOM___k (1 << 2)
#define NF_NAT_RANGE_PERSISTENT___k (1 << 3)
#define NF_NAT_RANGE_PROTO_RANDOM_FULLY___k (1 << 4)
#define NFPROTO_IPV4___k 2
#define NFPROTO_IPV6___k 10

struct ovs_conntrack_info___ovs {
	struct nf_conntrack_zone zone;
	__u8 commit : 1;
	__u8 nat : 3;
	__u8 force : 1;
	__u16 family;
	struct nf_nat_range2 range;
} __attribute__((preserve_access_index));

static __always_inline void ovs_ct_nat(struct retrace_ovs *o, const struct ovs_conntrack_info___ovs *info,
				       __u16 family)
{
	__u32 rflags = BPF_CORE_READ(info, range.flags);
	__u32 nat = BPF_CORE_READ_BITFIELD_PROBED(info, nat);
	__be16 port;

	o->ct_flags |= R_OVS_CT_NAT;
	if (nat & OVS_CT_SRC_NAT___k)
		o->ct_flags |= R_OVS_CT_NAT_SRC;
	if (nat & OVS_CT_DST_NAT___k)
		o->ct_flags |= R_OVS_CT_NAT_DST;
	/* The range's own flags (retis tests these bits on the nat field, where they are not). */
	if (rflags & NF_NAT_RANGE_PERSISTENT___k)
		o->ct_flags |= R_OVS_CT_NAT_RANGE_PERSISTENT;
	if (rflags & NF_NAT_RANGE_PROTO_RANDOM___k)
		o->ct_flags |= R_OVS_CT_NAT_RANGE_PROTO_RANDOM;
	if (rflags & NF_NAT_RANGE_PROTO_RANDOM_FULLY___k)
		o->ct_flags |= R_OVS_CT_NAT_RANGE_PROTO_RANDOM_FULLY;
	if (rflags & NF_NAT_RANGE_MAP_IPS___k) {
		const void *min = __builtin_preserve_access_index(&info->range.min_addr);
		const void *max = __builtin_preserve_access_index(&info->range.max_addr);

		o->ct_flags |= R_OVS_CT_NAT_RANGE_MAP_IPS;
		if (family == NFPROTO_IPV6___k) {
			bpf_probe_read_kernel(o->min_addr, 16, min);
			bpf_probe_read_kernel(o->max_addr, 16, max);
		} else {
			bpf_probe_read_kernel(o->min_addr, 4, min);
			bpf_probe_read_kernel(o->max_addr, 4, max);
		}
	}
	if (rflags & NF_NAT_RANGE_PROTO_SPECIFIED___k) {
		o->ct_flags |= R_OVS_CT_NAT_RANGE_PROTO_SPECIFIED;
		port = BPF_CORE_READ(info, range.min_proto.all);
		o->min_port = bpf_ntohs(port);
		port = BPF_CORE_READ(info, range.max_proto.all);
		o->max_port = bpf_ntohs(port);
	}
}

/* The action's details, from its attribute's data. */
static __always_inline int ovs_action_details(struct retrace_ovs *o, const struct nlattr *attr)
{
	const void *data = (const void *)attr + sizeof(struct nlattr);
	const struct ovs_conntrack_info___ovs *info = data;
	__u16 family;

	if (!o)
		return 0;
	switch (o->action) {
	case OVS_ACTION_ATTR_OUTPUT:
		bpf_probe_read_kernel(&o->port, sizeof(o->port), data);
		o->flags |= OVS_F_PORT;
		break;
	case OVS_ACTION_ATTR_RECIRC:
	case OVS_ACTION_ATTR_DROP:
		bpf_probe_read_kernel(&o->act_arg, sizeof(o->act_arg), data);
		o->flags |= OVS_F_ACT_ARG;
		break;
	case OVS_ACTION_ATTR_CT:
		if (!bpf_core_type_exists(struct ovs_conntrack_info___ovs))
			break;
		o->zone_id = BPF_CORE_READ(info, zone.id);
		family = BPF_CORE_READ(info, family);
		if (BPF_CORE_READ_BITFIELD_PROBED(info, commit))
			o->ct_flags |= R_OVS_CT_COMMIT;
		if (BPF_CORE_READ_BITFIELD_PROBED(info, force))
			o->ct_flags |= R_OVS_CT_FORCE;
		if (family == NFPROTO_IPV4___k)
			o->ct_flags |= R_OVS_CT_IP4;
		else if (family == NFPROTO_IPV6___k)
			o->ct_flags |= R_OVS_CT_IP6;
		if (BPF_CORE_READ_BITFIELD_PROBED(info, nat))
			ovs_ct_nat(o, info, family);
		o->flags |= OVS_F_CT;
		break;
	}
	return 0;
}

#endif
