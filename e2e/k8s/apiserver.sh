#!/usr/bin/env bash
# A bare control plane for tests, as controller-runtime's envtest runs one: etcd and kube-apiserver
# (TLS, RBAC and Node authorization, ServiceAccount tokens), no kubelet; state and logs in DIR.
#   e2e/k8s/apiserver.sh start DIR   prints DIR/kubeconfig (admin) once /readyz answers | stop DIR
set -Eeuo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$K8S_DIR/lib/binaries.sh"
. "$K8S_DIR/lib/pki.sh"

log() { printf 'apiserver.sh: %s\n' "$*" >&2; }
die() {
  printf 'apiserver.sh: %s\n' "$*" >&2
  exit 1
}
# Any other failure (openssl, node, ln, ...) names the command that failed.
trap 'die "\`$BASH_COMMAND\` failed (line $LINENO)"' ERR

# A marker that says DIR is ours, so that `stop` never removes a directory it did not make.
MARKER=.retrace-apiserver

use_dir() {
  [ -n "${1:-}" ] || die "give the directory: $0 start|stop DIR"
  DIR=$(realpath -m "$1")
  # common.sh's start/wait_for and pki.sh's cert/ca work under these; never the full cluster's.
  # shellcheck disable=SC2034 # read by the sourced helpers (kubectl_admin)
  STATE=$DIR
  RUN_DIR=$DIR/run
  LOGS=$DIR/logs
  PKI=$DIR/pki
}

# N loopback ports nobody listens on now, all different (the kernel's choice for port-0
# listeners, held open together).
free_ports() {
  node -e 'const net = require("net");
    const ss = Array.from({ length: Number(process.argv[1]) }, () => net.createServer().listen(0, "127.0.0.1"));
    Promise.all(ss.map((s) => new Promise((r) => s.on("listening", r)))).then(() => {
      console.log(ss.map((s) => s.address().port).join(" "));
      ss.forEach((s) => s.close());
    });' "$1"
}

make_small_pki() {
  mkdir -p "$PKI"
  chmod 700 "$PKI"
  ca ca envtest-ca
  cert apiserver ca /CN=kube-apiserver \
    "DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:127.0.0.1" serverAuth
  cert admin ca "/O=system:masters/CN=envtest-admin"
  sa_keys
  rm -f "$PKI"/*.srl
}

start_all() {
  use_dir "$1"
  if [ -f "$DIR/$MARKER" ]; then
    if alive "$(cat "$RUN_DIR/apiserver.pid" 2>/dev/null || echo 0)"; then
      die "an API server already runs from $DIR ($0 stop $DIR first)"
    fi
    stop_all "$DIR"
  elif [ -d "$DIR" ] && [ -n "$(ls -A "$DIR")" ]; then
    die "$DIR is not empty and not one of ours: give a new or empty directory"
  fi
  mkdir -p "$DIR" "$LOGS" "$RUN_DIR"
  touch "$DIR/$MARKER"
  # A failed start leaves nothing running, and keeps DIR for its logs.
  trap 'kill_components' EXIT
  local started=$SECONDS
  # Only when missing: build_binaries rebuilds whatever changed (CoreDNS, kubelet, ...), which is
  # cluster.sh build's business, and may be running there at the same time.
  if [ ! -x "$BIN/etcd" ] || [ ! -x "$BIN/kube-apiserver" ]; then build_binaries; fi
  make_small_pki
  local etcd_port peer_port api_port
  read -r etcd_port peer_port api_port < <(free_ports 3) || true
  [ -n "${api_port:-}" ] || die "found no free loopback ports (node -e ..., port 0 listeners)"
  echo "$api_port" >"$DIR/apiserver.port"

  # Plain HTTP on loopback: only this machine reaches it, and the API server is what tests use.
  # No fsync: the data lives as long as one test run.
  start etcd "$BIN/etcd" --name envtest --data-dir "$DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "envtest=http://127.0.0.1:$peer_port" --unsafe-no-fsync --snapshot-count 10000
  wait_for etcd 30 curl -sf "http://127.0.0.1:$etcd_port/health"

  start apiserver "$BIN/kube-apiserver" --advertise-address 127.0.0.1 --bind-address 127.0.0.1 \
    --secure-port "$api_port" --etcd-servers "http://127.0.0.1:$etcd_port" \
    --allow-privileged=true --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
    --client-ca-file "$PKI/ca.crt" --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
    --service-account-issuer "https://kubernetes.default.svc.$CLUSTER_DOMAIN" \
    --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --audit-policy-file "$K8S_DIR/manifests/audit-policy.yaml" --audit-log-path "$LOGS/audit.log" --audit-log-format json
  wait_for apiserver 90 curl -sf --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
    "https://127.0.0.1:$api_port/readyz"

  # Written last: a kubeconfig in DIR means the server is ready.
  kubeconfig admin admin "https://127.0.0.1:$api_port"
  mv "$DIR/admin.kubeconfig" "$DIR/kubeconfig"
  trap - EXIT
  log "ready in $((SECONDS - started))s at https://127.0.0.1:$api_port (logs in $LOGS)"
  echo "$DIR/kubeconfig"
}

# Alive and not a zombie (killed, waiting for whoever adopted it to reap it).
alive() {
  kill -0 "$1" 2>/dev/null && [ "$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null)" != Z ]
}

kill_components() {
  local name pid
  # SIGKILL: everything they hold is removed with DIR, so a graceful shutdown (seconds) buys nothing.
  for name in apiserver etcd; do
    pid=$(cat "$RUN_DIR/$name.pid" 2>/dev/null || true)
    if [ -z "$pid" ] || ! alive "$pid"; then continue; fi
    kill -9 "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
      alive "$pid" || continue 2
      sleep 0.1
    done
    log "$name (pid $pid) is still there 5s after SIGKILL (log: $LOGS/$name.log)"
  done
}

stop_all() {
  use_dir "$1"
  [ -d "$DIR" ] || return 0
  [ -f "$DIR/$MARKER" ] || die "$DIR was not made by $0 start: not removing it"
  kill_components
  rm -rf "$DIR"
}

case "${1:-}" in
  start) start_all "${2:-}" ;;
  stop) stop_all "${2:-}" ;;
  *)
    sed -n '2,4p' "$0" >&2
    exit 2
    ;;
esac
