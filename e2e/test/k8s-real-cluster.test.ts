// retrace on a real Kubernetes, as a user installs and runs it: e2e/k8s/cluster.sh starts etcd,
// the control plane, containerd, kubelet, kube-proxy and CoreDNS on this machine; the real helm
// installs the chart from images built here (e2e/k8s/images); the real kubectl applies Traces and
// runs the kubectl-retrace plugin. Steps follow one another (one cluster, one release).
// The steps are in k8s-real-cluster/, one module per stage; what they share (the cluster, the
// release, the test pods, kubectl and the plugin) is a ClusterSession (e2e/src/k8s/).
//
// RETRACE_K8S=0 skips it (e.g. a machine without Go); RETRACE_K8S_KEEP=1 leaves the cluster up.
import { ClusterSession } from '../src/k8s/cluster-session.js';
import { helmInstall, testPods } from './k8s-real-cluster/install.js';
import { clusterTrace, namespacedTrace } from './k8s-real-cluster/traces.js';
import { twoUsers } from './k8s-real-cluster/readers.js';
import { agentPodDeleted, operatorPodDeleted } from './k8s-real-cluster/restarts.js';
import { helmUninstall, helmUpgrade, pluginListed, rbacAsUsed } from './k8s-real-cluster/release-end.js';

const enabled = process.env.RETRACE_K8S !== '0';
const d = enabled ? describe : describe.skip;

d('retrace on a real Kubernetes (e2e/k8s/cluster.sh)', () => {
  const run = new ClusterSession();

  beforeAll(() => run.start(), 60 * 60_000);
  afterAll(() => run.stop(), 300_000);

  test(
    'helm install --wait: the operator and the agents become Ready from the local images',
    () => helmInstall(run),
    600_000,
  );
  test('test pods in two namespaces; the CRDs as kubectl shows them', () => testPods(run), 300_000);
  test(
    'a namespaced Trace: printer columns, the drop with its reason and pod, journeys with real pod names',
    () => namespacedTrace(run),
    300_000,
  );
  test(
    'a ClusterTrace sees both namespaces; kubectl retrace drops -A lists the drop',
    () => clusterTrace(run),
    300_000,
  );
  test(
    "two users: each reads the journeys of the Traces Kubernetes' view role gives them, with nothing but a token in their kubeconfig",
    () => twoUsers(run),
    300_000,
  );
  test(
    'the agent pod deleted: the DaemonSet restarts it, the trace resumes with the gap reported, the old programs are gone',
    () => agentPodDeleted(run),
    400_000,
  );
  test(
    'the operator pod deleted: leadership moves through the Lease, no trace is lost',
    () => operatorPodDeleted(run),
    600_000,
  );
  test(
    'helm upgrade with tls.extraServerNames reissues the server certificate with the new names',
    () => helmUpgrade(run),
    600_000,
  );
  test("the chart's RBAC is what the API server needs: nothing refused, nothing unused, only the operator calls", () =>
    rbacAsUsed(run));
  test('the kubectl plugin: installed by one command (beforeAll), kubectl plugin list finds it', () =>
    pluginListed(run));
  test(
    'helm uninstall: no program, link or nft table of ours is left; the CRDs stay, as documented',
    () => helmUninstall(run),
    300_000,
  );
});
