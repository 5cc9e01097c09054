// Discovery documents: /api, /api/v1, /apis, /apis/{group}, /apis/{group}/{version}.
import type { Obj } from './json.js';
import type { Registry, ResourceType } from './resource-type.js';

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

/** Kubernetes version priority: GA before beta before alpha, higher numbers first. */
function priority(v: string): number {
  const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
  if (!m) return 0;
  const stage = m[2] === undefined ? 3 : m[2] === 'beta' ? 2 : 1;
  return stage * 1e6 + Number(m[1]) * 1e3 + Number(m[3] ?? 0);
}

function resourceList(types: ResourceType[], group: string, version: string): Obj | undefined {
  const served = types.filter((rt) => rt.group === group && rt.versions.includes(version));
  if (!served.length) return undefined;
  const resources = served.flatMap((rt) => {
    const main: Obj = {
      name: rt.plural,
      singularName: rt.singular,
      namespaced: rt.namespaced,
      kind: rt.kind,
      verbs: VERBS,
    };
    if (rt.shortNames.length) main.shortNames = rt.shortNames;
    if (!rt.statusVersions.has(version)) return [main];
    return [
      main,
      {
        name: `${rt.plural}/status`,
        singularName: '',
        namespaced: rt.namespaced,
        kind: rt.kind,
        verbs: ['get', 'patch', 'update'],
      },
    ];
  });
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: group ? `${group}/${version}` : version,
    resources,
  };
}

function apiGroup(types: ResourceType[], group: string): Obj | undefined {
  const versions = [...new Set(types.filter((rt) => rt.group === group).flatMap((rt) => rt.versions))];
  if (!versions.length) return undefined;
  const entries = versions
    .sort((a, b) => priority(b) - priority(a))
    .map((v) => ({ groupVersion: `${group}/${v}`, version: v }));
  return { name: group, versions: entries, preferredVersion: entries[0] };
}

export function discovery(registry: Registry, path: string, serverAddress: string): Obj | undefined {
  const types = registry.all();
  if (path === '/api') {
    return {
      kind: 'APIVersions',
      versions: ['v1'],
      serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
    };
  }
  if (path === '/api/v1') return resourceList(types, '', 'v1');
  if (path === '/apis') {
    const groups = [...new Set(types.map((rt) => rt.group).filter(Boolean))].map((g) => apiGroup(types, g));
    return { kind: 'APIGroupList', apiVersion: 'v1', groups };
  }
  const [, group, version, ...rest] = path.slice(1).split('/');
  if (!path.startsWith('/apis/') || !group || rest.length) return undefined;
  if (version === undefined) {
    const doc = apiGroup(types, group);
    return doc && { kind: 'APIGroup', apiVersion: 'v1', ...doc };
  }
  return resourceList(types, group, version);
}

export const VERSION_INFO = {
  major: '1',
  minor: '31',
  gitVersion: 'v1.31.0-kube-fake',
  gitCommit: '',
  gitTreeState: 'clean',
  buildDate: '1970-01-01T00:00:00Z',
  goVersion: '',
  compiler: 'gc',
  platform: 'linux/amd64',
};
