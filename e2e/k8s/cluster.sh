#!/usr/bin/env bash
# A real single-node Kubernetes on this machine, for the e2e tests and for trying retrace by hand:
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy and CoreDNS
# from one pinned release built with Go (cached in /var/cache/retrace-k8s), containerd, runc and
# the CNI plugins from Debian. TLS everywhere, RBAC and Node authorization, ServiceAccount tokens,
# NodeRestriction: set up as kubeadm sets a control plane up. As root:
#
#   e2e/k8s/cluster.sh up        build what is missing, start the cluster, import the images
#   e2e/k8s/cluster.sh env       print `export KUBECONFIG=... PATH=...` for a shell to eval
#   e2e/k8s/cluster.sh status    which components run
#   e2e/k8s/cluster.sh down      stop it and remove every process, mount, netns, link, nft table
#                                and cgroup it made, even after a failed `up`
#   e2e/k8s/cluster.sh build     only build the binaries and images (what CI caches)
#
# Logs: /var/lib/retrace-k8s/logs/COMPONENT.log (kept after `down` until the next `up`).
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$K8S_DIR/lib/binaries.sh"
. "$K8S_DIR/lib/pki.sh"
. "$K8S_DIR/lib/config.sh"
. "$K8S_DIR/lib/teardown.sh"

[ "$(id -u)" = 0 ] || die "run as root: the cluster runs containers, a kubelet and kube-proxy"

images() { "$K8S_DIR/images/images.sh" "$@"; }

up() {
  if [ -f "$RUN_DIR/apiserver.pid" ] && kill -0 "$(cat "$RUN_DIR/apiserver.pid")" 2>/dev/null; then
    log "already up (cluster.sh down first to start afresh); refreshing the images"
    images build
    images import "$CONTAINERD_SOCK"
    env_lines
    return 0
  fi
  down_quiet
  install_packages
  build_binaries
  images build
  local ip started=$SECONDS
  ip=$(node_ip)
  rm -rf "$LOGS"
  mkdir -p "$STATE" "$LOGS" "$RUN_DIR"
  save_host_settings
  # tracefs where the agents' hostPath mount looks for it, as a node has it.
  # Its mount id is kept, so that `down` unmounts only that mount, never one made by someone else
  # since (the test runner's, after a reboot or a stale state directory).
  if ! mountpoint -q /sys/kernel/tracing; then
    mount -t tracefs tracefs /sys/kernel/tracing
    findmnt -n -o ID /sys/kernel/tracing >"$STATE/mounted-tracefs"
  fi
  make_pki "$ip"

  start etcd "$BIN/etcd" --name "$NODE_NAME" --data-dir "$STATE/etcd" \
    --listen-client-urls https://127.0.0.1:2379 --advertise-client-urls https://127.0.0.1:2379 \
    --listen-peer-urls https://127.0.0.1:2380 --initial-advertise-peer-urls https://127.0.0.1:2380 \
    --initial-cluster "$NODE_NAME=https://127.0.0.1:2380" --listen-metrics-urls http://127.0.0.1:2381 \
    --client-cert-auth --trusted-ca-file "$PKI/etcd-ca.crt" --cert-file "$PKI/etcd-server.crt" \
    --key-file "$PKI/etcd-server.key" --peer-client-cert-auth --peer-trusted-ca-file "$PKI/etcd-ca.crt" \
    --peer-cert-file "$PKI/etcd-peer.crt" --peer-key-file "$PKI/etcd-peer.key" --snapshot-count 10000
  wait_for etcd 30 curl -sf http://127.0.0.1:2381/health

  start apiserver "$BIN/kube-apiserver" --advertise-address "$ip" --bind-address "$ip" --secure-port 6443 \
    --allow-privileged=true --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
    --client-ca-file "$PKI/ca.crt" --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
    --etcd-servers https://127.0.0.1:2379 --etcd-cafile "$PKI/etcd-ca.crt" \
    --etcd-certfile "$PKI/apiserver-etcd-client.crt" --etcd-keyfile "$PKI/apiserver-etcd-client.key" \
    --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" \
    --kubelet-client-key "$PKI/apiserver-kubelet-client.key" --kubelet-certificate-authority "$PKI/ca.crt" \
    --kubelet-preferred-address-types InternalIP,Hostname \
    --proxy-client-cert-file "$PKI/front-proxy-client.crt" --proxy-client-key-file "$PKI/front-proxy-client.key" \
    --requestheader-client-ca-file "$PKI/front-proxy-ca.crt" --requestheader-allowed-names front-proxy-client \
    --requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
    --requestheader-extra-headers-prefix X-Remote-Extra- \
    --service-account-issuer "https://kubernetes.default.svc.$CLUSTER_DOMAIN" \
    --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
    --service-cluster-ip-range "$SERVICE_CIDR" --enable-bootstrap-token-auth=true \
    --audit-policy-file "$K8S_DIR/manifests/audit-policy.yaml" --audit-log-path "$LOGS/audit.log" \
    --audit-log-format json
  wait_for apiserver 90 curl -sf --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
    "https://$ip:6443/readyz"

  start controller-manager "$BIN/kube-controller-manager" --kubeconfig "$STATE/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$STATE/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$STATE/controller-manager.kubeconfig" --bind-address 127.0.0.1 \
    --client-ca-file "$PKI/ca.crt" --requestheader-client-ca-file "$PKI/front-proxy-ca.crt" \
    --root-ca-file "$PKI/ca.crt" --service-account-private-key-file "$PKI/sa.key" \
    --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
    --use-service-account-credentials=true --controllers '*,bootstrapsigner,tokencleaner' \
    --allocate-node-cidrs=true --cluster-cidr "$POD_CIDR" --node-cidr-mask-size 24 \
    --service-cluster-ip-range "$SERVICE_CIDR" --leader-elect=true
  start scheduler "$BIN/kube-scheduler" --kubeconfig "$STATE/scheduler.kubeconfig" \
    --authentication-kubeconfig "$STATE/scheduler.kubeconfig" \
    --authorization-kubeconfig "$STATE/scheduler.kubeconfig" --bind-address 127.0.0.1 --leader-elect=true

  write_containerd_config
  start containerd containerd --config "$STATE/containerd.toml"
  wait_for containerd 30 ctr --address "$CONTAINERD_SOCK" version
  images import "$CONTAINERD_SOCK"

  write_kubelet_config "$ip"
  start kubelet "$BIN/kubelet" --config "$STATE/kubelet.yaml" --kubeconfig "$STATE/kubelet.kubeconfig" \
    --root-dir "$STATE/kubelet" --cert-dir "$PKI" --hostname-override "$NODE_NAME" --node-ip "$ip" \
    --v 1
  write_kube_proxy_config
  start kube-proxy "$BIN/kube-proxy" --config "$STATE/kube-proxy.yaml"

  wait_for kubelet 90 kubectl_admin get node "$NODE_NAME"
  kubectl_admin apply -f "$K8S_DIR/manifests/kubelet-api-admin.yaml" >/dev/null
  sed -e "s/CLUSTER_DOMAIN/$CLUSTER_DOMAIN/; s#COREDNS_IMAGE#$COREDNS_IMAGE#; s/DNS_SERVICE_IP/$DNS_SERVICE_IP/" \
    "$K8S_DIR/manifests/coredns.yaml" | kubectl_admin apply -f - >/dev/null
  wait_for kubelet 120 kubectl_admin wait --for=condition=Ready "node/$NODE_NAME" --timeout 2s
  wait_for coredns 120 kubectl_admin -n kube-system wait --for=condition=Available deployment/coredns --timeout 2s
  log "up in $((SECONDS - started))s: node $NODE_NAME ($ip), Kubernetes $K8S_VERSION"
  env_lines
}

env_lines() {
  echo "export KUBECONFIG=$STATE/admin.kubeconfig"
  echo "export PATH=$BIN:\$PATH"
}

status() {
  local name pid rc=0
  for name in etcd apiserver controller-manager scheduler containerd kubelet kube-proxy; do
    pid=$(cat "$RUN_DIR/$name.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      echo "$name: running (pid $pid, log $LOGS/$name.log)"
    else
      echo "$name: not running"
      rc=1
    fi
  done
  return $rc
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  env) env_lines ;;
  status) status ;;
  build)
    install_packages
    mkdir -p "$LOGS"
    build_binaries
    images build
    ;;
  *)
    sed -n '2,15p' "$0" >&2
    exit 2
    ;;
esac
