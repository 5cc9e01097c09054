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

/* Kernel memory reads. probe.bpf.o is built with RETRACE_DIRECT_READS for kernels that have the
 * bpf_rdonly_cast kfunc (6.2+): the probe's skb is cast to its BTF type once and every field,
 * however deep, is a plain load the JIT guards against faults (no helper call, no copy). Without
 * it (probe_compat.bpf.o, for older kernels), chain_emit() copies the sk_buff once and pointers
 * beyond it are read with BPF_CORE_READ, a bpf_probe_read_kernel each. KREAD(p, a, b) is p->a->b
 * either way. Both fault to zeros. */
#ifdef RETRACE_DIRECT_READS
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;
#define KPTR(type, addr) ((type *)bpf_rdonly_cast((const void *)(addr), bpf_core_type_id_kernel(type)))
/* libbpf's own chain builder (what BPF_CORE_READ's field list expands with). */
#define KREAD(...) ___arrow(__VA_ARGS__)
#else
#define KPTR(type, addr) ((type *)(addr))
#define KREAD(...) BPF_CORE_READ(__VA_ARGS__)
#endif

/* Network namespace inode of a device, 0 when unknown. */
static __always_inline __u32 dev_netns_ino(const struct net_device *dev)
{
	if (!dev)
		return 0;
	return KREAD(dev, nd_net.net, ns.inum);
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
