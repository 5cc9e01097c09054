// What a test makes on the shared test API server, and removing it again. Nothing but the API
// server runs there, so this does what the missing parts would: a namespace's default
// ServiceAccount (the service-account controller), Nodes as kubelets register them, Pods bound and
// then reported running (kubelet), emptying and finalizing deleted namespaces (the namespace
// controller). cleanup() leaves the server as the test found it, finalizers included.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { KubeConfig } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { ApiError, RestClient, isNotFound, type ApiResource, type KubeObject, type ObjectRef } from './rest.js';

/** `prefix-xxxxxx`: a name no other test uses (lower-case hex keeps it a DNS label). */
export const uniqueName = (prefix: string): string => `${prefix}-${randomBytes(3).toString('hex')}`;

const ref = (o: ObjectRef): ObjectRef => ({
  apiVersion: o.apiVersion,
  kind: o.kind,
  metadata: { name: o.metadata.name, ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}) },
});

const sameRef = (a: ObjectRef, b: ObjectRef): boolean =>
  a.apiVersion === b.apiVersion &&
  a.kind === b.kind &&
  a.metadata.name === b.metadata.name &&
  a.metadata.namespace === b.metadata.namespace;

export interface RunningPod {
  ip: string;
  /** Without the runtime prefix (containerd:// is added). */
  containerId: string;
}

export class TestObjects {
  readonly rest: RestClient;
  private readonly namespaces: string[] = [];
  private readonly objects: ObjectRef[] = [];

  constructor(kc: KubeConfig) {
    this.rest = new RestClient(kc);
  }

  /** A namespace of the test's own, `prefix-xxxxxx`, with the default ServiceAccount Pods need. */
  async namespace(prefix: string, labels: Record<string, string> = {}): Promise<string> {
    const name = uniqueName(prefix);
    await this.rest.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
    this.namespaces.push(name);
    await this.rest.create({
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'default', namespace: name },
    });
    return name;
  }

  /** Creates the object; cleanup() deletes it. */
  async create<T extends KubeObject>(o: T): Promise<T> {
    const made = await this.rest.create(o);
    this.track(o);
    return made;
  }

  /** Creates or replaces the object; cleanup() deletes it. */
  async apply<T extends KubeObject>(o: T): Promise<T> {
    const made = await this.rest.apply(o);
    this.track(o);
    return made;
  }

  /** Something made some other way (a command the test ran) that cleanup() must delete too. */
  track(o: ObjectRef): void {
    if (!this.objects.some((x) => sameRef(x, o))) this.objects.push(ref(o));
  }

  /** A Node as its kubelet registers it: labels, and the kernel its status reports. */
  node(name: string, labels: Record<string, string> = {}, kernelVersion?: string): Promise<KubeObject> {
    return this.create({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name, labels: { 'kubernetes.io/hostname': name, ...labels } },
      ...(kernelVersion ? { status: { nodeInfo: { kernelVersion } } } : {}),
    });
  }

  /** A Pod bound to `node`; with `running`, then reported running there as its kubelet would. */
  async pod(
    namespace: string,
    name: string,
    node: string,
    labels: Record<string, string> = {},
    running?: RunningPod,
  ): Promise<KubeObject> {
    const pod = await this.create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace, labels },
      spec: { nodeName: node, containers: [{ name: 'main', image: 'busybox' }] },
    });
    return running ? this.podRunning(pod, running) : pod;
  }

  /** What a kubelet reports once the pod's container runs: phase, IPs, container id. */
  podRunning(pod: ObjectRef, r: RunningPod): Promise<KubeObject> {
    return this.rest.setStatus(pod, {
      phase: 'Running',
      podIP: r.ip,
      podIPs: [{ ip: r.ip }],
      containerStatuses: [
        {
          name: 'main',
          ready: true,
          restartCount: 0,
          image: 'busybox',
          imageID: '',
          containerID: `containerd://${r.containerId}`,
          state: { running: { startedAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z') } },
        },
      ],
    });
  }

  /**
   * Deletes everything made or tracked, and the namespaces with all in them; finalizers no
   * controller is left to remove are removed. Throws, after trying everything, if some remain.
   */
  async cleanup(): Promise<void> {
    const failed: string[] = [];
    for (const o of this.objects.splice(0).reverse())
      await this.remove(o).catch((e: unknown) => failed.push(`${o.kind} ${o.metadata.name}: ${(e as Error).message}`));
    for (const ns of this.namespaces.splice(0))
      await this.removeNamespace(ns).catch((e: unknown) => failed.push(`namespace ${ns}: ${(e as Error).message}`));
    if (failed.length) throw new Error(`cleanup left objects on the test API server:\n${failed.join('\n')}`);
  }

  private async remove(o: ObjectRef): Promise<void> {
    await this.rest.delete(o);
    const left = await this.rest.get(o);
    if (left?.metadata.finalizers?.length) await this.dropFinalizers(o);
  }

  private async dropFinalizers(o: ObjectRef): Promise<void> {
    try {
      await this.rest.patch(o, { metadata: { finalizers: null } });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  /** Deletes every object of one resource in the namespace; throws naming any left. */
  private async emptyResource(ns: string, r: ApiResource): Promise<void> {
    const gv = r.groupVersion;
    const path = `${gv.includes('/') ? `/apis/${gv}` : `/api/${gv}`}/namespaces/${ns}/${r.name}`;
    const list = async (): Promise<KubeObject[]> =>
      (await this.rest.request<{ items: KubeObject[] }>('GET', path)).items;
    await this.rest.request('DELETE', path, { gracePeriodSeconds: 0 });
    // Held by finalizers no controller is left to remove.
    for (const o of await list())
      if (o.metadata.finalizers?.length)
        await this.dropFinalizers({ apiVersion: gv, kind: r.kind, metadata: { name: o.metadata.name, namespace: ns } });
    const left = await list();
    if (left.length) throw new Error(`${r.name} still there: ${left.map((o) => o.metadata.name).join(', ')}`);
  }

  /** What the namespace controller does: every namespaced resource emptied, then the namespace finalized. */
  private async removeNamespace(ns: string): Promise<void> {
    const resources = (await Promise.all((await this.rest.groupVersions()).map((gv) => this.rest.resources(gv))))
      .flat()
      .filter((r) => r.namespaced && r.verbs.includes('deletecollection') && r.verbs.includes('list'));
    await Promise.all(resources.map((r) => this.emptyResource(ns, r)));
    const nsRef = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } };
    await this.rest.delete(nsRef);
    for (let attempt = 0; ; attempt++) {
      const there = await this.rest.get(nsRef);
      if (!there) return;
      try {
        await this.rest.request('PUT', `/api/v1/namespaces/${ns}/finalize`, { ...there, spec: { finalizers: [] } });
      } catch (e) {
        // 409: changed since it was read (read it again).
        if (!(e instanceof ApiError && e.code === 409 && attempt < 5)) throw e;
      }
    }
  }
}

const REPO = fileURLToPath(new URL('../../..', import.meta.url));

/** retrace's CRDs as crds/ has them. */
export function retraceCrds(): KubeObject[] {
  return ['crds/trace.yaml', 'crds/clustertrace.yaml'].map((f) => parse(readFileSync(REPO + f, 'utf8')) as KubeObject);
}

interface Crd extends KubeObject {
  spec: { group: string; names: { plural: string }; versions: { name: string; served: boolean }[] };
  status?: { conditions?: { type: string; status: string }[] };
}

/**
 * Creates or replaces CRDs and waits until the API server serves them: Established, and their
 * objects listed (until its watch cache is ready a list is answered 429). They stay for the rest
 * of the run: every test uses the same ones.
 */
export async function installCrds(rest: RestClient, crds: KubeObject[] = retraceCrds()): Promise<void> {
  for (const crd of crds) await rest.apply(crd);
  const deadline = Date.now() + 20_000;
  for (const crd of crds as Crd[]) {
    let why = '';
    for (;;) {
      const got = await rest.get<Crd>(crd);
      why = `its status is ${JSON.stringify(got?.status)}`;
      if (got?.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) {
        const lists = crd.spec.versions
          .filter((v) => v.served)
          .map((v) => rest.request('GET', `/apis/${crd.spec.group}/${v.name}/${crd.spec.names.plural}?limit=1`));
        const failed = (await Promise.allSettled(lists)).find((r) => r.status === 'rejected');
        if (!failed) break;
        why = `listing its objects: ${String((failed as PromiseRejectedResult).reason)}`;
      }
      if (Date.now() > deadline) throw new Error(`CRD ${crd.metadata.name} not served after 20 s: ${why}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
