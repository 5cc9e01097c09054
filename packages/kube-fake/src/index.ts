// @retrace/kube-fake: an in-process Kubernetes API server for tests. See README.md.
export {};
