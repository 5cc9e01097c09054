# One entry for everything: make deps | build | test | demo | bench | lint | typecheck | generate | clean
SHELL := /bin/bash
.DEFAULT_GOAL := build
.PHONY: deps build bpf native ts generate test test-only test-unit test-unit-any-user test-kernel e2e lint typecheck demo bench clean install-plugin k8s cluster-up cluster-down

deps:
	@scripts/deps.sh

bpf:
	@$(MAKE) --no-print-directory -C bpf

ADDON := packages/ebpf-loader/build/Release/ebpf_loader.node
native: $(ADDON)
$(ADDON): packages/ebpf-loader/binding.gyp $(wildcard packages/ebpf-loader/native/*)
	@npm run --silent build:native -w @retrace/ebpf-loader

ts:
	@npx tsc -b
	@chmod +x cli/dist/bin/retrace.js cli/dist/bin/kubectl-retrace.js

build: deps bpf native ts

typecheck: deps
	@npx tsc -b && npx tsc -p tsconfig.test.json

# Every generated file, in order: the skeleton from probe.bpf.o's BTF (make bpf), the protobuf
# code, the agent's collectors into @retrace/spec and the CRDs, the chart's CRD copies, and the
# Trace types from the CRDs. `make lint` checks that none is out of date.
generate: deps bpf
	@node proto/gen-ts.mjs
	@node agent/gen-collector-names.mjs
	@node helm/retrace/sync-crds.mjs
	@node packages/spec/gen-crd-types.mjs

lint: deps bpf
	@node proto/gen-ts.mjs --check
	@node agent/gen-collector-names.mjs --check
	@node helm/retrace/sync-crds.mjs --check
	@node packages/spec/gen-crd-types.mjs --check
	@node bpf/gen-skeleton.mjs --check
	@npx eslint . && npx prettier --check . --log-level warn

# Everything CI needs: build, static checks, the kernel lab (Debian 6.1 under qemu), the real
# Kubernetes binaries and images, then every test on this machine's kernel (root).
test: build typecheck lint test-unit-any-user test-kernel k8s test-only

test-kernel: build
	@e2e/kernel-lab/lab.sh

test-only:
	@npm test --silent

# Tests that need neither root nor a kernel, as any user (after `make build`, or `make ts` once
# the dependencies are installed): jest.unit.config.js says which.
test-unit: ts
	@npm run --silent test:unit

# The unit tier as an unprivileged user (nobody), so that no unit test comes to need root.
test-unit-any-user: ts
	@runuser -u nobody -- env HOME=/tmp node --experimental-vm-modules node_modules/jest/bin/jest.js \
	  -c jest.unit.config.js --cacheDirectory /tmp/retrace-jest-unit-nobody --silent

# The multi-node scenarios alone (agents and an aggregator as processes, a VXLAN overlay between
# node namespaces); `make test` runs them too.
e2e: build
	@npm test --silent -- e2e/test/cluster-

# The main job: a real trace on this machine's kernel.
demo: build
	@node e2e/dist/scenarios/journey-demo.js

bench: build k8s
	@$(MAKE) --no-print-directory -C bpf stages >/dev/null
	@node e2e/dist/bench/ringbuf-delivery.js && node e2e/dist/bench/collect-userspace.js \
	  && node e2e/dist/bench/iperf-trace.js && node e2e/dist/bench/filter-run.js && node e2e/dist/bench/bpf-stages.js && node e2e/dist/bench/bpf-ops.js \
	  && node e2e/dist/bench/cluster-pipeline.js && node e2e/dist/bench/query-memory.js \
	  && node e2e/dist/bench/cli-startup.js && node e2e/dist/bench/attach.js && node e2e/dist/bench/k8s-install.js

# kubectl finds plugins as executables named kubectl-NAME on the PATH: link ours there
# (PREFIX=/usr/local by default; `make install-plugin PREFIX=$HOME/.local` for one user).
PREFIX ?= /usr/local
install-plugin:
	@test -x cli/dist/bin/kubectl-retrace.js || { echo "install-plugin: build first (make build)" >&2; exit 1; }
	@mkdir -p "$(PREFIX)/bin"
	@ln -sfn "$(CURDIR)/cli/dist/bin/kubectl-retrace.js" "$(PREFIX)/bin/kubectl-retrace"
	@ln -sfn "$(CURDIR)/cli/dist/bin/retrace.js" "$(PREFIX)/bin/retrace"
	@echo "installed $(PREFIX)/bin/kubectl-retrace and $(PREFIX)/bin/retrace (kubectl plugin list shows it)"

# The real Kubernetes, etcd, CoreDNS and helm binaries (Go, from pinned modules) and the OCI images
# the tests run: built once into /var/cache/retrace-k8s, seconds when nothing changed.
k8s: build
	@e2e/k8s/cluster.sh build

# A real single-node Kubernetes on this machine (e2e/k8s/README.md); `eval "$$(e2e/k8s/cluster.sh env)"`
# points kubectl and helm at it.
cluster-up: build
	@e2e/k8s/cluster.sh up

cluster-down:
	@e2e/k8s/cluster.sh down

clean:
	@$(MAKE) --no-print-directory -C bpf clean
	rm -rf packages/*/build packages/*/dist agent/dist aggregator/dist operator/dist cli/dist e2e/dist *.tsbuildinfo
