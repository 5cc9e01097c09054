# Paths, versions and process helpers shared by cluster.sh and its parts (sourced, not run).
# shellcheck shell=bash

K8S_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPO_DIR=$(cd "$K8S_DIR/../.." && pwd)

# One pinned release of each. Kubernetes 1.34: the last minor whose kubelet runs on cgroup v1
# without opting out (docs/adr/0007-a-real-test-cluster.md).
K8S_VERSION=v1.34.4
ETCD_VERSION=v3.6.5
COREDNS_VERSION=1.12.1
PAUSE_IMAGE=docker.io/retrace/pause:3.10.1
COREDNS_IMAGE=docker.io/retrace/coredns:$COREDNS_VERSION

# Built binaries and images survive between runs here (outside the repository); the cluster's
# state lives in STATE and RUN and is removed by `down`.
CACHE=${RETRACE_K8S_CACHE:-/var/cache/retrace-k8s}
BIN=$CACHE/bin
STATE=${RETRACE_K8S_STATE:-/var/lib/retrace-k8s}
RUN_DIR=/run/retrace-k8s
LOGS=$STATE/logs
PKI=$STATE/pki

NODE_NAME=retrace-node
CLUSTER_DOMAIN=cluster.local
SERVICE_CIDR=10.96.0.0/12
API_SERVICE_IP=10.96.0.1
DNS_SERVICE_IP=10.96.0.10
POD_CIDR=10.244.0.0/16
NODE_POD_CIDR=10.244.0.0/24
BRIDGE=rtk8s0
CONTAINERD_SOCK=$RUN_DIR/containerd.sock
# containerd 1.6 keeps runc's state and shim sockets under /run/containerd whatever its own state
# directory is: `down` looks there for what is ours (namespace k8s.io, our socket).
RUNC_ROOT=/run/containerd/runc/k8s.io

log() { printf 'cluster: %s\n' "$*" >&2; }
die() {
  printf 'cluster: %s\n' "$*" >&2
  exit 1
}

# The node's address: the host's source address for its default route (the apiserver advertises
# it, kubelet serves on it). Never used as a destination beyond this machine.
node_ip() {
  local ip
  ip=$(ip -4 -o route get 192.0.2.255 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p')
  [ -n "$ip" ] || ip=$(ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -1)
  [ -n "$ip" ] || die "no global IPv4 address on this machine for the node (ip -4 addr shows none)"
  echo "$ip"
}

# start NAME BINARY ARGS...: runs a component in the background, in its own session, with its
# output in $LOGS/NAME.log and its pid in $RUN_DIR/NAME.pid. Its environment carries
# RETRACE_K8S_OWNER=$RUN_DIR (inherited by what it starts: containerd's shims): `down` finds the
# cluster's processes by that mark even when pid files are gone, and touches no other process.
start() {
  local name=$1
  shift
  mkdir -p "$LOGS" "$RUN_DIR"
  RETRACE_K8S_OWNER=$RUN_DIR setsid "$@" >"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN_DIR/$name.pid"
}

# Pids of the processes `start` made for this RUN_DIR (and their children), by their mark.
owned_pids() {
  local f pid
  for f in /proc/[0-9]*/environ; do
    pid=${f#/proc/}
    pid=${pid%/environ}
    grep -qxzF "RETRACE_K8S_OWNER=$RUN_DIR" "$f" 2>/dev/null && echo "$pid"
  done
  return 0
}

# wait_for NAME SECONDS COMMAND...: waits until COMMAND succeeds; on time-out (or if NAME's
# process ended) says which component failed, with its log file and last lines. A component that
# runs as a pod (no log of its own here) points at kubelet's log and the pod's state.
wait_for() {
  local name=$1 seconds=$2 pid logf
  shift 2
  pid=$(cat "$RUN_DIR/$name.pid" 2>/dev/null || true)
  logf=$LOGS/$name.log
  [ -f "$logf" ] || logf=$LOGS/kubelet.log
  local deadline=$((SECONDS + seconds)) why
  until "$@" >/dev/null 2>&1; do
    why=""
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      why="exited while starting"
    elif ((SECONDS >= deadline)); then
      why="was not ready after ${seconds}s"
    fi
    if [ -n "$why" ]; then
      tail -n 15 "$logf" 2>/dev/null | cut -c1-400 >&2 || true
      [ -n "$pid" ] || kubectl_admin get pods -A -o wide >&2 2>&1 || true
      die "$name $why; see $logf (last lines above)"
    fi
    sleep 0.5
  done
}

kubectl_admin() { "$BIN/kubectl" --kubeconfig "$STATE/admin.kubeconfig" "$@"; }
