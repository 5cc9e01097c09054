// Command coredns is CoreDNS v1.12.1 (the version kubeadm 1.34 deploys) with only the plugins
// the test cluster's Corefile uses (e2e/k8s/manifests/coredns.yaml; nothing is forwarded off the
// machine). The upstream command links every plugin; the cloud SDKs would triple the build.
package main

import (
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
)

func main() { coremain.Run() }
