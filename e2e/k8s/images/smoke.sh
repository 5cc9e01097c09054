# Sourced by images.sh (its functions and variables): the smoke test of the images it builds.
# shellcheck shell=bash
# ---------------------------------------------------------------------------------------------
# Smoke test: a throwaway containerd (own root, state and socket under /tmp; no CRI), the same
# import as the cluster's, and each image run once. Everything it starts or mounts is removed.

SMOKE_CTR=()
smoke_cleanup() {
  local t=$SMOKE_DIR pid id
  SMOKE_DIR=
  if [ -n "$SMOKE_PID" ] && kill -0 "$SMOKE_PID" 2>/dev/null; then
    for id in $("${SMOKE_CTR[@]}" tasks ls -q 2>/dev/null); do
      "${SMOKE_CTR[@]}" tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true
      "${SMOKE_CTR[@]}" tasks delete -f "$id" >/dev/null 2>&1 || true
    done
    for id in $("${SMOKE_CTR[@]}" containers ls -q 2>/dev/null); do
      "${SMOKE_CTR[@]}" containers delete "$id" >/dev/null 2>&1 || true
    done
    kill "$SMOKE_PID"
    wait "$SMOKE_PID" 2>/dev/null || true
  fi
  # Shims of this containerd only: they were started with its socket's path.
  for pid in $(pgrep -f -- "-address $t/c.sock"); do
    kill -9 "$pid" 2>/dev/null || true
  done
  unmount_under "$t"
  rm -rf "$t"
}

# smoke_run ID IMAGE-REF EXPECT [CTR-RUN-FLAG...] -- ARG...: runs ARG... in the image; its
# output must contain EXPECT.
smoke_run() {
  local id=$1 ref=$2 expect=$3 flags=() out
  shift 3
  while [ "$1" != -- ]; do
    flags+=("$1")
    shift
  done
  shift
  if ! out=$("${SMOKE_CTR[@]}" run --rm --runc-root "$SMOKE_DIR/runc" --snapshotter "$SNAPSHOTTER" \
    "${flags[@]}" "$REGISTRY/$ref" "smoke-$id" "$@" 2>&1) || [[ $out != *"$expect"* ]]; then
    printf '%s\n' "$out" >&2
    die "smoke: $id: '$*' in $ref failed"
  fi
  log "smoke: $id ok: $(printf '%s' "$out" | tail -1 | cut -c1-100)"
}

# smoke_stop ID IMAGE-REF [EXPECT [CTR-RUN-FLAG... -- ARG...]]: the image's process (its own, or
# ARG...) starts and keeps running (printing EXPECT), and SIGTERM ends it with status 0.
smoke_stop() {
  local id=$1 ref=$2 expect=${3:-} flags=() pid rc=0 out=$SMOKE_DIR/$1.out
  shift $(($# < 3 ? $# : 3))
  while (($#)) && [ "$1" != -- ]; do
    flags+=("$1")
    shift
  done
  (($#)) && shift
  "${SMOKE_CTR[@]}" run --rm --runc-root "$SMOKE_DIR/runc" --snapshotter "$SNAPSHOTTER" \
    "${flags[@]}" "$REGISTRY/$ref" "smoke-$id" "$@" >"$out" 2>&1 &
  pid=$!
  for _ in $(seq 50); do
    "${SMOKE_CTR[@]}" tasks ls 2>/dev/null | grep -q "^smoke-$id .*RUNNING" && break
    sleep 0.2
  done
  sleep 1
  "${SMOKE_CTR[@]}" tasks kill -s SIGTERM "smoke-$id" || { cat "$out" >&2; die "smoke: $id is not running"; }
  wait "$pid" || rc=$?
  [ "$rc" = 0 ] || { cat "$out" >&2; die "smoke: $id exited with $rc on SIGTERM"; }
  [ -z "$expect" ] || grep -qF -- "$expect" "$out" || { cat "$out" >&2; die "smoke: $id did not print '$expect'"; }
  log "smoke: $id ok: runs, exits 0 on SIGTERM"
}

smoke_config() {
  local t=$1
  printf '%s\n' 'version = 2' "root = \"$t/root\"" "state = \"$t/state\"" \
    'disabled_plugins = ["io.containerd.grpc.v1.cri"]' \
    '[grpc]' "  address = \"$t/c.sock\"" '[ttrpc]' "  address = \"$t/c.sock.ttrpc\"" \
    '[plugins."io.containerd.internal.v1.opt"]' "  path = \"$t/opt\""
}

smoke() {
  [ "$(id -u)" = 0 ] || die "smoke needs root"
  local t refs testpod agent operator
  t=$(mktemp -d /tmp/retrace-images-smoke.XXXXXX)
  SMOKE_DIR=$t
  smoke_config "$t" >"$t/config.toml"
  containerd --config "$t/config.toml" >"$t/containerd.log" 2>&1 &
  SMOKE_PID=$!
  SMOKE_CTR=(ctr --address "$t/c.sock" --namespace k8s.io)
  for _ in $(seq 50); do
    "${SMOKE_CTR[@]}" version >/dev/null 2>&1 && break
    sleep 0.2
  done
  "${SMOKE_CTR[@]}" version >/dev/null || { cat "$t/containerd.log" >&2; die "smoke: containerd did not start"; }

  import "$t/c.sock"
  "${SMOKE_CTR[@]}" images ls >&2
  refs=$(list)
  testpod=$(grep '^retrace/testpod:' <<<"$refs")
  agent=$(grep '^retrace/retrace-agent:' <<<"$refs")
  operator=$(grep '^retrace/retrace-operator:' <<<"$refs")

  smoke_run testpod-echo "$testpod" ok -- busybox echo ok
  # shellcheck disable=SC2016 # expanded by the container's shell
  smoke_run testpod-tools "$testpod" tools-ok -- sh -c \
    'for t in sh nc ping ip sleep wget nslookup nft; do command -v $t >/dev/null || exit 1; done; echo tools-ok'
  # The drop rule a test adds inside its pod: needs CAP_NET_ADMIN, in the container's own netns.
  smoke_run testpod-nft "$testpod" 'udp dport 9999 drop' --privileged -- sh -c \
    'nft add table inet t && nft add chain inet t out "{ type filter hook output priority 0; }" && nft add rule inet t out udp dport 9999 drop && nft list ruleset'
  smoke_stop testpod-default "$testpod"

  smoke_run agent-addon "$agent" addon-ok -- node -e \
    "require('/app/packages/ebpf-loader/build/Release/ebpf_loader.node'); console.log('addon-ok', process.version)"
  smoke_run agent-help "$agent" 'Usage: retrace-agent' -- retrace-agent --help
  smoke_run agent-tools "$agent" tools-ok -- sh -c 'ip -V && nft --version && nsenter --version && id -u && echo tools-ok'
  smoke_run operator-help "$operator" 'Usage: retrace-operator' -- retrace-operator --help
  smoke_run aggregator-help "$operator" 'Usage: retrace-aggregator' -- retrace-aggregator --help
  # shellcheck disable=SC2016 # expanded by the container's shell
  smoke_run operator-user "$operator" 65532:65532 -- sh -c 'echo "$(id -u):$(id -g)"'

  smoke_stop pause "retrace/pause:$PAUSE_TAG"
  smoke_run pause-version "retrace/pause:$PAUSE_TAG" 'pause (retrace)' -- /pause -v
  if grep -q '^retrace/coredns:' <<<"$refs"; then
    smoke_run coredns "retrace/coredns:$COREDNS_TAG" CoreDNS -- /coredns -version
    # Port 53 as uid 65532: needs the file capability the layer carries.
    printf '%s\n' '.:53 {' '  errors' '}' >"$SMOKE_DIR/Corefile"
    smoke_stop coredns-port-53 "retrace/coredns:$COREDNS_TAG" .:53 \
      --mount "type=bind,src=$SMOKE_DIR/Corefile,dst=/etc/coredns/Corefile,options=rbind:ro" \
      -- /coredns -conf /etc/coredns/Corefile
  fi
  log "smoke: all images import and run"
}


