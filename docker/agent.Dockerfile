# retrace-agent: the node agent (a DaemonSet). Build from the repository root:
#   docker build -f docker/agent.Dockerfile -t retrace/retrace-agent:0.1.0 .
# The build stage runs docker/build-steps.sh, which also runs without Docker.

FROM node:24-bookworm AS build
WORKDIR /src
# Dependencies first, so that source changes reuse this layer.
COPY package.json package-lock.json ./
COPY packages/spec/package.json packages/spec/
COPY packages/ebpf-loader/package.json packages/ebpf-loader/
COPY packages/events/package.json packages/events/
COPY packages/wire/package.json packages/wire/
COPY packages/cli-flags/package.json packages/cli-flags/
COPY agent/package.json agent/
COPY aggregator/package.json aggregator/
COPY operator/package.json operator/
COPY cli/package.json cli/
COPY e2e/package.json e2e/
COPY docker/build-steps.sh docker/
RUN docker/build-steps.sh deps
COPY . .
# BPF objects are compiled against the build machine's kernel BTF (CO-RE adapts them to the
# kernel they load on); pass another BTF file with --build-arg VMLINUX_BTF=... if it has none.
ARG VMLINUX_BTF=/sys/kernel/btf/vmlinux
ENV VMLINUX_BTF=${VMLINUX_BTF}
RUN docker/build-steps.sh build agent && docker/build-steps.sh stage agent /out

FROM node:24-bookworm-slim
# libbpf, libelf and libpcap for the native addon; ip (iproute2) and nsenter (util-linux) for
# the pod mapper; nft for the nft collector's nftrace table.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libbpf1 libelf1 libpcap0.8 iproute2 nftables util-linux \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out /app
RUN ln -s /app/agent/dist/bin/retrace-agent.js /usr/local/bin/retrace-agent
ENV NODE_ENV=production RETRACE_BPF_DIR=/app/bpf/.output
WORKDIR /app
# Root: loading eBPF needs CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN, CAP_SYS_ADMIN, CAP_SYS_PTRACE and
# CAP_SYSLOG, which Kubernetes only makes effective for uid 0. The chart drops every other
# capability and runs it unprivileged otherwise (helm/retrace/templates/agent-daemonset.yaml).
USER 0
ENTRYPOINT ["retrace-agent"]
