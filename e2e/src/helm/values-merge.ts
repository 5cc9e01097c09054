// Helm's coalescing of values: a user's values over the chart's defaults, maps merged key by key,
// anything else replaced, and a null removing the default (how `--set x=null` deletes a key).
import { deepCopy, isMap, type GoMap } from './values.js';

export function coalesceValues(defaults: GoMap, ...overrides: GoMap[]): GoMap {
  let out = deepCopy(defaults);
  for (const o of overrides) out = mergeOver(out, o);
  return out;
}

function mergeOver(base: GoMap, over: GoMap): GoMap {
  const out: GoMap = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === null) delete out[k];
    else if (isMap(v) && isMap(out[k])) out[k] = mergeOver(out[k] as GoMap, v);
    else out[k] = deepCopy(v);
  }
  return out;
}
