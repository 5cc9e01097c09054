/* Kernel-only helpers shared by retrace BPF programs. */
#ifndef __RETRACE_COMPAT_BPF_H
#define __RETRACE_COMPAT_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

/* Keeps a struct in the object's BTF even when only locals use it, so userspace can read its
 * layout from the object itself instead of a hand-kept copy. */
#define RETRACE_BTF_TYPE(name) struct name *__retrace_btf_##name __attribute__((unused))
#define RETRACE_BTF_ENUM(name) enum name *__retrace_btf_enum_##name __attribute__((unused))

/* Network namespace inode of a device, 0 when unknown. */
static __always_inline __u32 dev_netns_ino(const struct net_device *dev)
{
	if (!dev)
		return 0;
	return BPF_CORE_READ(dev, nd_net.net, ns.inum);
}

/* Copies up to max bytes; the clamp sits right before the helper so the verifier sees it. */
static __always_inline __u64 copy_bytes(void *dst, __u64 n, const __u64 max, const void *src)
{
	if (n > max)
		n = max;
	asm volatile("" : "+r"(n));
	if (n > max || n == 0)
		return 0;
	if (bpf_probe_read_kernel(dst, n, src))
		return 0;
	return n;
}


#endif
