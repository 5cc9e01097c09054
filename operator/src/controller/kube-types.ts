// The objects the operator reads are client-node's models (V1Node, V1Pod, V1Namespace) and
// @retrace/spec's TraceResource; here is what it does with any of them: keys and label selectors.
import type { V1LabelSelector } from '@kubernetes/client-node';

/** What every cached object has (client-node's models and plain-JSON Traces alike). */
export interface Named {
  metadata?: { name?: string; namespace?: string };
}

/** Whether labels satisfy a selector (an empty or absent selector matches everything). */
export function matchesSelector(labels: Record<string, string> | undefined, s: V1LabelSelector | undefined): boolean {
  if (!s) return true;
  const l = labels ?? {};
  for (const [k, v] of Object.entries(s.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const e of s.matchExpressions ?? []) {
    const has = Object.hasOwn(l, e.key);
    const inValues = has && (e.values ?? []).includes(l[e.key] as string);
    if (e.operator === 'In' && !inValues) return false;
    if (e.operator === 'NotIn' && inValues) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

/** `namespace/name`, or `name` for cluster-scoped objects: the work queue's key. */
export function objectKey(o: Named): string {
  const { name = '', namespace } = o.metadata ?? {};
  return namespace ? `${namespace}/${name}` : name;
}
