#!/usr/bin/env bash
# The build stage of docker/agent.Dockerfile and docker/operator.Dockerfile, runnable without
# Docker: the Dockerfiles call this script, so both build the same way. From anywhere:
#
#   docker/build-steps.sh deps                      Debian build packages (as root, only what is
#                                                   missing) and `npm ci`
#   docker/build-steps.sh build agent|operator      BPF objects and the native addon (agent), TypeScript
#   docker/build-steps.sh stage agent|operator DIR  the runtime files into DIR, without dev
#                                                   dependencies (what the image's last stage copies)
#
# `deps` replaces node_modules (npm ci): run it in a copy, not in a checkout others are using.
# BPF objects are compiled against VMLINUX_BTF (default: this machine's /sys/kernel/btf/vmlinux);
# CO-RE relocates them on the kernel they load on.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_PACKAGES=(make g++ pkg-config python3 clang llvm libbpf-dev libelf-dev zlib1g-dev libpcap-dev bpftool)

usage() {
  sed -n '2,13p' "$0" >&2
  exit 2
}

component() {
  case "${1:-}" in
    agent | operator) echo "$1" ;;
    *) echo "build-steps: say which image: agent or operator (got '${1:-}')" >&2; exit 2 ;;
  esac
}

deps() {
  local missing=()
  for p in "${BUILD_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    if [ "$(id -u)" != 0 ]; then
      echo "build-steps: missing Debian packages (${missing[*]}); run as root to install them" >&2
      exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  npm ci --no-audit --no-fund
}

build() {
  local c
  c=$(component "${1:-}")
  if [ "$c" = agent ]; then
    # Only the agent loads the native addon (libbpf, libpcap), and only the programs it loads;
    # bpf/'s test helpers need more packages.
    npm run --silent build:native -w @retrace/ebpf-loader
    make --no-print-directory -C bpf objects
  fi
  npx tsc -b "$c"
}

# The files the image runs from, laid out as in the repository so that workspace links in
# node_modules (@retrace/* -> ../../agent ...) and the BPF object search (bpf/.output) hold.
# Only the packages the component may import (layers.js, docker/workspaces-of.mjs) get their
# code: the operator's image has neither the agent nor the native addon.
stage() {
  local c dir ws
  c=$(component "${1:-}")
  dir=${2:?build-steps: stage needs a destination directory}
  rm -rf "$dir"
  mkdir -p "$dir"
  cp package.json package-lock.json "$dir/"
  # npm needs every workspace's package.json to prune.
  for ws in $(node -p "require('./package.json').workspaces.join(' ')"); do
    mkdir -p "$dir/$ws"
    cp "$ws/package.json" "$dir/$ws/"
  done
  for ws in $(node docker/workspaces-of.mjs "$c"); do
    cp -r "$ws/dist" "$dir/$ws/"
  done
  # Built-in profiles: agents expand a trace's profile for their kernel, the operator checks it.
  cp -r profiles "$dir/"
  if [ "$c" = agent ]; then
    mkdir -p "$dir/packages/ebpf-loader/build/Release" "$dir/bpf/.output"
    cp packages/ebpf-loader/build/Release/ebpf_loader.node "$dir/packages/ebpf-loader/build/Release/"
    cp bpf/.output/*.bpf.o "$dir/bpf/.output/"
  fi
  cp -a node_modules "$dir/"
  (cd "$dir" && npm prune --omit=dev --no-audit --no-fund >/dev/null)
  find "$dir" -name '*.tsbuildinfo' -delete
  find "$dir" -path '*/dist/*' \( -name '*.map' -o -name '*.d.ts' \) -delete
  for ws in $(node docker/workspaces-of.mjs "$c"); do
    if [ -d "$dir/$ws/dist/bin" ]; then chmod +x "$dir/$ws/dist/bin/"*.js; fi
  done
}

case "${1:-}" in
  deps) deps ;;
  build) build "${2:-}" ;;
  stage) stage "${2:-}" "${3:-}" ;;
  *) usage ;;
esac
