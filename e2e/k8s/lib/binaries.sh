# What the cluster runs: Debian's containerd, runc and CNI plugins, and the Kubernetes, etcd,
# CoreDNS and helm binaries built with Go from the module proxy at the versions pinned in
# e2e/k8s/go/*/go.mod (sourced).
# shellcheck shell=bash

DEBIAN_PACKAGES=(containerd runc containernetworking-plugins iptables conntrack socat ethtool nftables
  iproute2 openssl curl mmdebstrap umoci busybox-static)

install_packages() {
  local missing=() p
  for p in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# build_module DIR STAMP_EXTRA BINARY=PACKAGE...: `go build` each package of the module in
# e2e/k8s/go/DIR into $BIN, unless its go.mod, go.sum and flags are what built them last.
build_module() {
  local dir=$K8S_DIR/go/$1 ldflags=$2 stamp want
  shift 2
  stamp=$BIN/.stamp-$(basename "$dir")
  want=$(cat "$dir/go.mod" "$dir/go.sum" "$dir"/*.go <(echo "$ldflags" "$*") | sha256sum | cut -c1-16)
  if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    local all=1 b
    for b in "$@"; do [ -x "$BIN/${b%%=*}" ] || all=0; done
    ((all)) && return 0
  fi
  command -v go >/dev/null || die "Go is needed to build the cluster's binaries (go on PATH)"
  mkdir -p "$BIN"
  local spec started
  for spec in "$@"; do
    started=$SECONDS
    log "building ${spec%%=*} (go build ${spec#*=})"
    (cd "$dir" && CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod go build -trimpath -ldflags "$ldflags" \
      -o "$BIN/${spec%%=*}" "${spec#*=}") >"$LOGS/build-${spec%%=*}.log" 2>&1 ||
      die "building ${spec%%=*} failed; its log: $LOGS/build-${spec%%=*}.log"
    log "built ${spec%%=*} in $((SECONDS - started))s"
  done
  echo "$want" >"$stamp"
}

build_binaries() {
  mkdir -p "$LOGS"
  local v=k8s.io/component-base/version c=k8s.io/client-go/pkg/version minor ld="-s -w" p
  minor=$(echo "$K8S_VERSION" | cut -d. -f2)
  # What `version` commands and the API server's /version report (normally set by Kubernetes'
  # own build scripts from git).
  for p in $v $c; do
    ld="$ld -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
    ld="$ld -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  build_module kubernetes "$ld" \
    kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver \
    kube-controller-manager=k8s.io/kubernetes/cmd/kube-controller-manager \
    kube-scheduler=k8s.io/kubernetes/cmd/kube-scheduler \
    kubelet=k8s.io/kubernetes/cmd/kubelet \
    kube-proxy=k8s.io/kubernetes/cmd/kube-proxy \
    kubectl=k8s.io/kubernetes/cmd/kubectl
  build_module etcd "-s -w" etcd=go.etcd.io/etcd/server/v3
  build_module coredns "-s -w" coredns=.
  local hv
  hv=$(sed -n 's/^require helm.sh\/helm\/v4 \(v[0-9.]*\)$/\1/p;s/^\thelm.sh\/helm\/v4 \(v[0-9.]*\)$/\1/p' "$K8S_DIR/go/helm/go.mod" | head -1)
  # As helm's own Makefile: the Kubernetes version it assumes without a cluster (helm template,
  # lint) is that of the client-go it links.
  local cm hl="-s -w -X helm.sh/helm/v4/internal/version.version=$hv"
  cm=$(sed -n 's/^\tk8s.io\/client-go v0\.\([0-9]*\)\..*/\1/p' "$K8S_DIR/go/helm/go.mod")
  for p in pkg/chart/common pkg/chart/v2/lint/rules internal/chart/v3/lint/rules; do
    hl="$hl -X helm.sh/helm/v4/$p.k8sVersionMajor=1 -X helm.sh/helm/v4/$p.k8sVersionMinor=$cm"
  done
  hl="$hl -X helm.sh/helm/v4/internal/version.kubeClientVersionMajor=1"
  hl="$hl -X helm.sh/helm/v4/internal/version.kubeClientVersionMinor=$cm"
  build_module helm "$hl" helm=helm.sh/helm/v4/cmd/helm
}
