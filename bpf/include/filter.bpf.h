/* Packet filter placeholders. Each is a real BPF-to-BPF subprogram whose body is one call to
 * an invalid helper id (the magic); before load, retrace replaces that call with the eBPF
 * translation of the user's tcpdump expression (agent/src/filter), or with "accept".
 * Arguments: data (kernel address of the first byte; for filters translated with direct loads,
 * a bpf_rdonly_cast(data, 0) pointer: chain.bpf.h's direct_packet), caplen (bytes readable),
 * wirelen (packet length, cBPF's `len`). Returns non-zero on match. */
#ifndef __RETRACE_FILTER_BPF_H
#define __RETRACE_FILTER_BPF_H

#define FILTER_MAGIC_L2 0x0dea0002	/* from the Ethernet header */
#define FILTER_MAGIC_L3 0x0dea0003	/* from the IP header (no link layer at this point) */
#define FILTER_MAGIC_META 0x0dea0004	/* the meta filter, on the struct sk_buff itself */

#define DEFINE_PACKET_FILTER(name, magic)                                                   \
	static __attribute__((noinline)) __u32 name(void *data, __u32 caplen, __u32 wirelen) \
	{                                                                                    \
		register void *r1 asm("r1") = data;                                          \
		register __u32 r2 asm("r2") = caplen;                                        \
		register __u32 r3 asm("r3") = wirelen;                                       \
		register __u32 r0 asm("r0");                                                 \
		asm volatile("call %[m]"                                                     \
			     : "=r"(r0), "+r"(r1), "+r"(r2), "+r"(r3)                       \
			     : [m] "i"(magic)                                                \
			     : "r4", "r5", "memory");                                        \
		return r0;                                                                   \
	}

DEFINE_PACKET_FILTER(packet_filter_l2, FILTER_MAGIC_L2)
DEFINE_PACKET_FILTER(packet_filter_l3, FILTER_MAGIC_L3)

/* The meta filter (retrace collect -m): r1 = the struct sk_buff *. */
static __attribute__((noinline)) __u32 meta_filter(void *skb)
{
	register void *r1 asm("r1") = skb;
	register __u32 r0 asm("r0");

	asm volatile("call %[m]" : "=r"(r0), "+r"(r1) : [m] "i"(FILTER_MAGIC_META) : "r2", "r3", "r4", "r5", "memory");
	return r0;
}

#endif
