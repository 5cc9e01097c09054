//go:build tools

// Package tools pins etcd at the version kubeadm 1.34 runs (3.6.5).
package tools

import _ "go.etcd.io/etcd/server/v3"
