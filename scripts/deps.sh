#!/usr/bin/env bash
# Installs the Debian packages retrace needs to build, test and benchmark (idempotent: only what
# is missing), then the npm dependencies when package-lock.json changed. Debian 12, as root.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  make g++ pkg-config          # native addon (node-gyp) and C helpers
  clang llvm                   # BPF: clang -target bpf
  libbpf-dev libelf-dev zlib1g-dev libpcap-dev
  bpftool                      # vmlinux.h generation; tests check the kernel with it
  systemtap-sdt-dev            # sys/sdt.h for the USDT test target
  iproute2 nftables tcpdump    # network-namespace labs; tcpdump is the filter ground truth
  iputils-ping conntrack       # lab traffic and conntrack inspection
  openssl util-linux           # test certificates for the agent link (mTLS); nsenter for the pod mapper
  iperf3 bpftrace tshark       # benchmarks (bpftrace: the peer measured against); tshark reads our pcap-ng
  python3 python3-venv         # retis's Python library (below): `retrace python` and its tests
  qemu-system-x86 busybox-static cpio   # the kernel lab (Debian's 6.1 kernel under qemu)
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ! command -v node >/dev/null; then missing+=(nodejs npm); fi
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "deps: missing Debian packages (${missing[*]}); run as root to install them" >&2
    exit 1
  fi
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "deps: Node.js >= 20 is required (found $(node -v))" >&2
  exit 1
fi

# npm ci only when the lock file is newer than the last install.
stamp=node_modules/.retrace-npm-ci
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  npm ci --no-audit --no-fund
  touch "$stamp"
fi

# retis's Python library (PyPI `retis`, pinned) in a virtualenv outside the repository: the
# tests read retrace's files with it and run `retrace python` through it (RETRACE_PYTHON).
# Made once; later runs only check the installed version.
RETIS_PY=1.7.0.post1
venv=${RETRACE_PYTHON_VENV:-/var/cache/retrace/python}
have=$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("retis"))' 2>/dev/null || true)
if [ "$have" != "$RETIS_PY" ]; then
  echo "deps: installing retis==$RETIS_PY (Python) into $venv"
  mkdir -p "$(dirname "$venv")"
  [ -x "$venv/bin/python" ] || /usr/bin/python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "retis==$RETIS_PY"
fi
