# Stopping the cluster and removing everything it made, including after a failed or killed `up`
# (sourced). Only what is provably the cluster's is touched: its processes (pid files, the
# RETRACE_K8S_OWNER mark `start` gives them, processes in its kubepods cgroups, shims of its
# containerd), mounts under its own
# directories, pod network namespaces with addresses in its pod range, its bridge, kube-proxy's
# and kubelet's nft tables and chains, and the sysctls kubelet changes (restored).
# shellcheck shell=bash

# Kernel settings kubelet (kernel tunables) and the CNI bridge (ip_forward) change on a node.
HOST_SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes net.ipv4.ip_forward net.ipv6.conf.all.forwarding)

save_host_settings() {
  local k
  [ -f "$STATE/host-sysctls" ] && return 0
  for k in "${HOST_SYSCTLS[@]}"; do echo "$k=$(sysctl -n "$k")"; done >"$STATE/host-sysctls"
  nft list tables >"$STATE/host-nft-tables" 2>/dev/null || true
}

restore_host_settings() {
  [ -f "$STATE/host-sysctls" ] || return 0
  local line
  while read -r line; do sysctl -q -w "$line" >/dev/null || true; done <"$STATE/host-sysctls"
}

# Every process in the cluster's pod cgroups (any v1 hierarchy, or the unified one).
pod_pids() {
  local d
  for d in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
    if [ -d "$d" ]; then find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null || true; fi
  done | sort -u
}

kill_all() {
  local pids try
  for try in 1 2 3 4 5 6 7 8 9 10; do
    pids=$("$@")
    [ -n "$pids" ] || return 0
    # shellcheck disable=SC2086
    kill -9 $pids 2>/dev/null || true
    sleep 0.3
  done
}

component_pids() {
  local f
  for f in "$RUN_DIR"/*.pid; do
    if [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; then cat "$f"; fi
  done
  owned_pids
}

shim_pids() { pgrep -f "containerd-shim-runc-v2 .*-address $CONTAINERD_SOCK" || true; }

remove_runc_state() {
  [ -d "$RUNC_ROOT" ] || return 0
  local id
  for id in $(runc --root "$RUNC_ROOT" list -f json 2>/dev/null | grep -o '"id":"[^"]*","pid":[0-9]*,"status":"[a-z]*","bundle":"'"$RUN_DIR"'[^"]*"' |
    sed 's/"id":"\([^"]*\)".*/\1/'); do
    runc --root "$RUNC_ROOT" delete -f "$id" >/dev/null 2>&1 || rm -rf "${RUNC_ROOT:?}/$id"
  done
}

unmount_under() {
  local dir
  for dir in "$@"; do
    { findmnt -rn -o TARGET | grep -E "^$dir(/|$)" || true; } | sort -r | while read -r m; do
      umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
  done
}

# Pod sandboxes' namespaces (containerd's cni-UUID) that hold an address of our pod range or
# nothing but loopback (a sandbox whose network set-up failed), and that no process uses.
remove_pod_netns() {
  local ns
  for ns in $(ip netns list 2>/dev/null | awk '/^cni-/{print $1}'); do
    [ -z "$(ip netns pids "$ns" 2>/dev/null)" ] || continue
    if ip -n "$ns" -4 -o addr show 2>/dev/null | grep -q " ${NODE_POD_CIDR%.*}\." ||
      [ "$(ip -n "$ns" -o link show 2>/dev/null | grep -vc ': lo:')" = 0 ]; then
      ip netns delete "$ns" 2>/dev/null || true
    fi
  done
}

# kube-proxy's nft tables, and the chains kubelet and the CNI portmap plugin add through
# iptables-nft; a table of those that only they filled, and that the host did not have before
# `up`, goes too.
remove_netfilter() {
  local fam t
  for fam in ip ip6; do nft delete table "$fam" kube-proxy 2>/dev/null || true; done
  for t in filter nat mangle; do
    for ipt in iptables ip6tables; do
      command -v "$ipt" >/dev/null || continue
      "$ipt" -t "$t" -S 2>/dev/null | awk '/^-A (OUTPUT|INPUT|FORWARD|PREROUTING|POSTROUTING) .*-j (KUBE|CNI)-/' |
        sed 's/^-A/-D/' | while read -r rule; do
        # shellcheck disable=SC2086
        "$ipt" -t "$t" $rule 2>/dev/null || true
      done
      for c in $("$ipt" -t "$t" -S 2>/dev/null | awk '/^-N (KUBE|CNI)-/{print $2}'); do "$ipt" -t "$t" -F "$c" 2>/dev/null || true; done
      for c in $("$ipt" -t "$t" -S 2>/dev/null | awk '/^-N (KUBE|CNI)-/{print $2}'); do "$ipt" -t "$t" -X "$c" 2>/dev/null || true; done
    done
  done
  [ -f "$STATE/host-nft-tables" ] || return 0
  for fam in ip ip6; do
    for t in filter nat mangle; do
      nft list table "$fam" "$t" >/dev/null 2>&1 || continue
      grep -qx "table $fam $t" "$STATE/host-nft-tables" && continue
      # Only built-in chains, none with a rule: what iptables-nft leaves behind.
      if ! nft list table "$fam" "$t" | grep -Evq '^\s*(table .*|chain .*|type .* policy [a-z]+;|\}|)$'; then
        nft delete table "$fam" "$t" 2>/dev/null || true
      fi
    done
  done
}

remove_cgroups() {
  local d
  for d in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
    if [ -d "$d" ]; then find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true; fi
  done
  return 0
}

down() {
  # The kubelet first, so that it restarts nothing; then the pods' processes; then the rest.
  local f
  for f in kubelet kube-proxy; do
    if [ -f "$RUN_DIR/$f.pid" ]; then kill -9 "$(cat "$RUN_DIR/$f.pid")" 2>/dev/null || true; fi
  done
  for f in $(owned_pids); do
    if [ "$(cat "/proc/$f/comm" 2>/dev/null)" = kubelet ]; then kill -9 "$f" 2>/dev/null || true; fi
  done
  kill_all pod_pids
  kill_all shim_pids
  kill_all component_pids
  remove_runc_state
  unmount_under "$RUN_DIR" "$STATE"
  remove_pod_netns
  ip link delete "$BRIDGE" 2>/dev/null || true
  remove_netfilter
  remove_cgroups
  restore_host_settings
  if [ -f "$STATE/mounted-tracefs" ] &&
    [ "$(findmnt -n -o ID /sys/kernel/tracing 2>/dev/null)" = "$(cat "$STATE/mounted-tracefs")" ]; then
    umount /sys/kernel/tracing 2>/dev/null || true
  fi
  rm -rf "$RUN_DIR"
  # Everything but the logs, so that a failed run can still be read.
  if [ -d "$STATE" ]; then find "$STATE" -mindepth 1 -maxdepth 1 ! -name logs -exec rm -rf {} + 2>/dev/null || true; fi
  local left
  left=$(findmnt -rn -o TARGET | grep -E "^($STATE|$RUN_DIR)(/|$)" || true)
  [ -z "$left" ] || die "still mounted after down: $left"
  [ -z "$(pod_pids)$(shim_pids)" ] || die "processes of the cluster survived down: $(pod_pids) $(shim_pids)"
}

down_quiet() { down >/dev/null 2>&1 || true; }
