// Helm's functions over the engine: include and tpl render templates to strings; required and
// fail stop the render with the chart's message; lookup finds what the caller says the cluster
// holds (nothing by default, as with `helm template`).
import type { Engine } from './engine.js';
import { FuncFail } from './evaluator.js';
import { str } from './funcs/args.js';
import { deepCopy, isMap, type GoFunc, type GoMap } from './values.js';

/** Objects `lookup` can find, as a cluster would hold them (none for `helm template`). */
export type Cluster = readonly GoMap[];

function lookup(cluster: Cluster, apiVersion: string, kind: string, namespace: string, name: string): GoMap {
  const found = cluster.filter((o) => {
    const meta = isMap(o['metadata']) ? o['metadata'] : {};
    return (
      o['apiVersion'] === apiVersion &&
      o['kind'] === kind &&
      (namespace === '' || meta['namespace'] === namespace) &&
      (name === '' || meta['name'] === name)
    );
  });
  // A name finds one object (or an empty map); no name lists them, as Helm's lookup does.
  if (name !== '') return deepCopy(found[0] ?? {});
  return { apiVersion, kind: `${kind}List`, items: found.map((o) => deepCopy(o)) };
}

export function helmFuncs(engine: Engine, cluster: Cluster = []): Record<string, GoFunc> {
  return {
    include: (name, data) => engine.execute(str(name), data),
    tpl: (text, data) => {
      const t = isMap(data) && isMap(data['Template']) ? data['Template']['Name'] : undefined;
      const name = typeof t === 'string' ? t : 'tpl';
      return engine.executeText(name, str(text), data).replaceAll('<no value>', '');
    },
    required: (message, value) => {
      if (value === null || value === undefined || value === '') throw new FuncFail(str(message));
      return value;
    },
    fail: (message) => {
      throw new FuncFail(str(message));
    },
    lookup: (...args) => {
      if (args.length !== 4) throw new Error(`wrong number of args for lookup: want 4 got ${args.length}`);
      const [apiVersion, kind, namespace, name] = args.map(str) as [string, string, string, string];
      return lookup(cluster, apiVersion, kind, namespace, name);
    },
  };
}
