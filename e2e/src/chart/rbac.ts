// Whether the chart's RBAC lets a service account make an API call, the way the API server's RBAC
// authorizer decides: bindings naming the account, the roles they grant, rules matching verb,
// group, resource (with subresource, `traces/status`) and name. A ClusterRoleBinding grants its
// ClusterRole everywhere; a RoleBinding grants its Role or ClusterRole in its own namespace only.
import type { Manifest } from './manifests.js';

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface ServiceAccountRef {
  namespace: string;
  name: string;
}

interface Rule {
  verbs?: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

function ruleAllows(r: Rule, verb: string, group: string, resource: string, name?: string): boolean {
  const verbs = strings(r.verbs);
  const groups = strings(r.apiGroups);
  const resources = strings(r.resources);
  const names = strings(r.resourceNames);
  const [base, sub] = resource.split('/');
  const resourceOk = resources.some(
    (x) => x === '*' || x === resource || (sub !== undefined && x === `*/${sub}`) || (sub === undefined && x === base),
  );
  return (
    (verbs.includes('*') || verbs.includes(verb)) &&
    (groups.includes('*') || groups.includes(group)) &&
    resourceOk &&
    (names.length === 0 || (name !== undefined && names.includes(name)))
  );
}

function rulesOf(ms: Manifest[], kind: 'Role' | 'ClusterRole', name: string, namespace?: string): Rule[] {
  const role = ms.find(
    (m) =>
      m.object.kind === kind &&
      m.object.metadata.name === name &&
      (kind === 'ClusterRole' || m.object.metadata['namespace'] === namespace),
  );
  const rules = role?.object['rules'];
  return Array.isArray(rules) ? rules.filter(isMap).map((r) => r as Rule) : [];
}

const parseRef = (sa: ServiceAccountRef | string): ServiceAccountRef => {
  if (typeof sa !== 'string') return sa;
  const [namespace = '', name = ''] = sa.split('/');
  return { namespace, name };
};

/**
 * Whether `serviceAccount` (`namespace/name`) may `verb` `resource` (`traces`, `traces/status`) of
 * API group `group` ('' for core), in `namespace` (omit for cluster-scoped resources or calls
 * across all namespaces), optionally on the object called `name`.
 */
export function rbacAllows(
  manifests: Manifest[],
  serviceAccount: ServiceAccountRef | string,
  verb: string,
  group: string,
  resource: string,
  namespace?: string,
  name?: string,
): boolean {
  const sa = parseRef(serviceAccount);
  for (const m of manifests) {
    const kind = m.object.kind;
    if (kind !== 'ClusterRoleBinding' && kind !== 'RoleBinding') continue;
    const bindingNs = m.object.metadata['namespace'];
    if (kind === 'RoleBinding' && (namespace === undefined || bindingNs !== namespace)) continue;
    const subjects = Array.isArray(m.object['subjects']) ? m.object['subjects'].filter(isMap) : [];
    const names = subjects.some(
      (s) => s['kind'] === 'ServiceAccount' && s['name'] === sa.name && s['namespace'] === sa.namespace,
    );
    if (!names) continue;
    const ref = m.object['roleRef'];
    if (!isMap(ref) || ref['apiGroup'] !== 'rbac.authorization.k8s.io') continue;
    const roleKind = ref['kind'];
    if (roleKind !== 'Role' && roleKind !== 'ClusterRole') continue;
    if (kind === 'ClusterRoleBinding' && roleKind !== 'ClusterRole') continue;
    const rules = rulesOf(
      manifests,
      roleKind,
      String(ref['name']),
      typeof bindingNs === 'string' ? bindingNs : undefined,
    );
    if (rules.some((r) => ruleAllows(r, verb, group, resource, name))) return true;
  }
  return false;
}
