#!/usr/bin/env bash
# Kernel lab: boots Debian's stock kernel (linux-image-amd64, 6.1: kprobes, fentry) under
# qemu-system-x86_64 software emulation, with this machine's root filesystem shared read-only
# over 9p under a tmpfs overlay, and runs a guest script (default: guest-checks.sh) with this
# checkout's build. Only Debian packages are fetched; kernel and initramfs are cached.
#   e2e/kernel-lab/lab.sh [GUEST_SCRIPT]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
script=$(realpath "${1:-$here/guest-checks.sh}")
cache=${RETRACE_KLAB_CACHE:-/var/cache/retrace-klab}
mkdir -p "$cache"

pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$pkg" ] || { echo "kernel lab: apt knows no linux-image-amd64 (run apt-get update)" >&2; exit 1; }
release=${pkg#linux-image-}
kdir="$cache/$release"
# Modules the guest loads: 9p root, then what the checks trace (veth, nftables, conntrack, the
# OVS kernel datapath).
mods="virtio virtio_ring virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci netfs fscache 9pnet 9pnet_virtio 9p overlay veth crc32c_generic libcrc32c nfnetlink nf_tables nf_defrag_ipv4 nf_defrag_ipv6 nf_conntrack nft_ct nsh nf_nat nf_conncount openvswitch"
if [ ! -f "$kdir/vmlinuz" ] || [ "$(cat "$kdir/modules" 2>/dev/null)" != "$mods" ]; then
  rm -rf "$kdir"
  rm -rf "$kdir.tmp" && mkdir -p "$kdir.tmp"
  (cd "$kdir.tmp" && apt-get download "$pkg" >/dev/null && dpkg -x ./*.deb root)
  cp "$kdir.tmp/root/boot/vmlinuz-$release" "$kdir.tmp/vmlinuz"
  mkdir -p "$kdir.tmp/initrd/bin" "$kdir.tmp/initrd/mods"
  for d in proc sys dev host up newroot; do mkdir -p "$kdir.tmp/initrd/$d"; done
  cp /bin/busybox "$kdir.tmp/initrd/bin/"
  for m in $mods; do
    cp "$(find "$kdir.tmp/root/lib/modules/$release/kernel" -name "$m.ko" | head -1)" "$kdir.tmp/initrd/mods/"
  done
  echo "$mods" > "$kdir.tmp/initrd/mods/list"
  echo "$mods" > "$kdir.tmp/modules"
  rm -rf "$kdir.tmp/root" "$kdir.tmp"/*.deb
  mv "$kdir.tmp" "$kdir"
fi
# Debian's Open vSwitch (ovsdb-server, ovs-vswitchd, ovs-vsctl) unpacked next to the kernel,
# with the libraries this machine lacks; the guest runs it from there (see /run/klab-env).
ovs="$cache/ovs"
ovs_pkgs="openvswitch-common openvswitch-switch libxdp1"
ovs_key=$(apt-cache policy $ovs_pkgs 2>/dev/null | awk '/Candidate:/ {print $2}' | tr '\n' ' ')
if [ "$(cat "$ovs/versions" 2>/dev/null)" != "$ovs_key" ]; then
  rm -rf "$ovs" "$ovs.tmp" && mkdir -p "$ovs.tmp"
  (cd "$ovs.tmp" && apt-get download $ovs_pkgs >/dev/null 2>&1 && for d in ./*.deb; do dpkg -x "$d" root; done && rm ./*.deb)
  echo "$ovs_key" > "$ovs.tmp/versions"
  mv "$ovs.tmp" "$ovs"
fi
# The guest runs GUEST_SCRIPT through /run/klab.sh, copied into the initramfs with the init.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -a "$kdir/initrd" "$work/initrd"
cp "$here/guest-init" "$work/initrd/init"
echo "$script" > "$work/initrd/klab-script"
printf 'KLAB_OVS=%s\n' "$ovs/root" > "$work/initrd/klab-env"
(cd "$work/initrd" && find . | cpio -o -H newc 2>/dev/null | gzip -1 > "$work/initrd.gz")

log="$work/console.log"
# The whole guest run (emulated: ~10 min idle; a busy host slows it). RETRACE_KLAB_TIMEOUT overrides.
timeout "${RETRACE_KLAB_TIMEOUT:-1500}" qemu-system-x86_64 -m 2048 -smp 2 -nographic -no-reboot \
  -kernel "$kdir/vmlinuz" -initrd "$work/initrd.gz" -append "console=ttyS0 quiet panic=-1" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap >"$log" 2>&1 || true
[ -z "${RETRACE_KLAB_LOG:-}" ] || tr -d '\r' < "$log" > "$RETRACE_KLAB_LOG"  # the whole console, for debugging
grep -a '^KLAB' "$log" | tr -d '\r' || true
grep -aq '^KLAB RESULT [0-9]* passed, 0 failed' "$log" || { echo "kernel lab failed (console: $(tail -5 "$log" | tr -d '\r'))" >&2; exit 1; }
