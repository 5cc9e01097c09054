# retrace-operator and retrace-aggregator: the controller and the aggregator (one image, either
# binary). Build from the repository root:
#   docker build -f docker/operator.Dockerfile -t retrace/retrace-operator:0.1.0 .
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
RUN docker/build-steps.sh build operator && docker/build-steps.sh stage operator /out

# No native code: the operator and the aggregator load neither libbpf nor libpcap (agents
# compile packet filters), so the image carries only Node and the JavaScript they run.
FROM node:24-bookworm-slim
COPY --from=build /out /app
RUN ln -s /app/operator/dist/bin/retrace-operator.js /usr/local/bin/retrace-operator \
 && ln -s /app/aggregator/dist/bin/retrace-aggregator.js /usr/local/bin/retrace-aggregator
ENV NODE_ENV=production
WORKDIR /app
# A plain process: no capability, not root (the chart runs it as 65532 too).
USER 65532:65532
ENTRYPOINT ["retrace-operator"]
