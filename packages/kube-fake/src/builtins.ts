// The built-in resources, with the few defaults and checks of theirs that clients run into.
import { admitCrd } from './crd.js';
import { fieldError, type FieldError } from './errors.js';
import { deepEqual, isObj, type KubeObject, type Obj } from './json.js';
import type { Admitted, AdmitContext, ResourceType } from './resource-type.js';

const ok = (errors: FieldError[] = []): Admitted => ({ errors, unknown: [] });

function builtin(
  group: string,
  kind: string,
  plural: string,
  namespaced: boolean,
  more: Partial<ResourceType> = {},
): ResourceType {
  return {
    group,
    versions: ['v1'],
    storageVersion: 'v1',
    kind,
    listKind: `${kind}List`,
    plural,
    singular: kind.toLowerCase(),
    shortNames: [],
    namespaced,
    statusVersions: new Set(),
    builtin: true,
    fieldSelectors: [],
    unconditionalUpdate: true,
    returnsDeleted: false,
    admit: () => ok(),
    ...more,
  };
}

const WITH_STATUS = new Set(['v1']);

function admitNamespace(ns: KubeObject, ctx: AdmitContext): Admitted {
  const name = ns.metadata.name ?? '';
  ns.metadata.labels = { ...ns.metadata.labels, 'kubernetes.io/metadata.name': name };
  // spec.finalizers belong to the namespace lifecycle, not to clients.
  ns.spec = ctx.old ? ctx.old.spec : { finalizers: ['kubernetes'] };
  if (!ctx.old) ns.status = { phase: 'Active' };
  return ok();
}

// Pod spec fields an update may change; anything else is immutable once created.
const MUTABLE_POD_SPEC = ['activeDeadlineSeconds', 'tolerations', 'terminationGracePeriodSeconds'];
function podSpecSkeleton(spec: unknown): unknown {
  if (!isObj(spec)) return spec;
  const rest: Obj = { ...spec };
  for (const key of MUTABLE_POD_SPEC) delete rest[key];
  for (const key of ['containers', 'initContainers']) {
    const list = rest[key];
    if (Array.isArray(list)) rest[key] = list.map((c: unknown) => (isObj(c) ? { ...c, image: undefined } : c));
  }
  return rest;
}

function admitPod(pod: KubeObject, ctx: AdmitContext): Admitted {
  const errs: FieldError[] = [];
  if (!ctx.old) pod.status = { phase: 'Pending' };
  const spec = isObj(pod.spec) ? pod.spec : {};
  const containers = Array.isArray(spec.containers) ? spec.containers : [];
  if (!containers.length) errs.push(fieldError.required('spec.containers'));
  containers.forEach((c: unknown, i) => {
    const container = isObj(c) ? c : {};
    if (!container.name) errs.push(fieldError.required(`spec.containers[${i}].name`));
    else if (containers.findIndex((d: unknown) => isObj(d) && d.name === container.name) < i) {
      errs.push(fieldError.duplicate(`spec.containers[${i}].name`, container.name));
    }
    if (!container.image) errs.push(fieldError.required(`spec.containers[${i}].image`));
  });
  if (ctx.old && !deepEqual(podSpecSkeleton(pod.spec), podSpecSkeleton(ctx.old.spec))) {
    errs.push(
      fieldError.forbidden(
        'spec',
        'pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)',
      ),
    );
  }
  return ok(errs);
}

function admitEvent(event: KubeObject): Admitted {
  const involved = isObj(event.involvedObject) ? event.involvedObject : {};
  const ns = involved.namespace;
  if (ns !== undefined && ns !== '' && ns !== event.metadata.namespace) {
    return ok([fieldError.invalid('involvedObject.namespace', ns, 'does not match event.namespace')]);
  }
  return ok();
}

function admitLease(lease: KubeObject): Admitted {
  const spec = isObj(lease.spec) ? lease.spec : {};
  const errs: FieldError[] = [];
  const duration = spec.leaseDurationSeconds;
  if (typeof duration === 'number' && duration <= 0) {
    errs.push(fieldError.invalid('spec.leaseDurationSeconds', duration, 'must be greater than 0'));
  }
  const transitions = spec.leaseTransitions;
  if (typeof transitions === 'number' && transitions < 0) {
    errs.push(fieldError.invalid('spec.leaseTransitions', transitions, 'must be greater than or equal to 0'));
  }
  return ok(errs);
}

export function builtinTypes(): ResourceType[] {
  return [
    builtin('', 'Namespace', 'namespaces', false, {
      shortNames: ['ns'],
      statusVersions: WITH_STATUS,
      fieldSelectors: ['status.phase'],
      returnsDeleted: true,
      admit: admitNamespace,
    }),
    builtin('', 'Node', 'nodes', false, {
      shortNames: ['no'],
      statusVersions: WITH_STATUS,
      fieldSelectors: ['spec.unschedulable'],
    }),
    builtin('', 'Pod', 'pods', true, {
      shortNames: ['po'],
      statusVersions: WITH_STATUS,
      returnsDeleted: true,
      fieldSelectors:
        'spec.nodeName spec.restartPolicy spec.schedulerName spec.serviceAccountName spec.hostNetwork status.phase status.podIP status.nominatedNodeName'.split(
          ' ',
        ),
      admit: admitPod,
    }),
    builtin('', 'Event', 'events', true, {
      shortNames: ['ev'],
      fieldSelectors:
        'involvedObject.kind involvedObject.namespace involvedObject.name involvedObject.uid involvedObject.apiVersion involvedObject.resourceVersion involvedObject.fieldPath reason reportingComponent source type'.split(
          ' ',
        ),
      admit: admitEvent,
    }),
    builtin('', 'Secret', 'secrets', true, { fieldSelectors: ['type'] }),
    builtin('coordination.k8s.io', 'Lease', 'leases', true, { admit: admitLease }),
    builtin('apiextensions.k8s.io', 'CustomResourceDefinition', 'customresourcedefinitions', false, {
      shortNames: ['crd', 'crds'],
      statusVersions: WITH_STATUS,
      unconditionalUpdate: false,
      admit: admitCrd,
    }),
  ];
}
