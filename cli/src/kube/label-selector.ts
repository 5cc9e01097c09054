// kubectl's -l syntax ("app=web,tier in (a,b),!canary") as the LabelSelector object a Trace
// spec holds, so `retrace create --pod-selector` reads like `kubectl get pods -l`.
import type { LabelSelector, LabelSelectorRequirement } from '@retrace/spec';
import { UsageError } from '../usage-error.js';

const KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

/** The comma-separated requirements, keeping the commas inside `in (...)` lists. */
function splitTopLevel(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let open = false;
  for (const ch of text) {
    if (ch === ',' && !open) {
      out.push(cur.trim());
      cur = '';
      continue;
    }
    if (ch === '(') open = true;
    if (ch === ')') open = false;
    cur += ch;
  }
  out.push(cur.trim());
  return out;
}

/** Parses `text` (the flag named `flag`, for messages) into a LabelSelector. */
export function parseLabelSelectorText(flag: string, text: string): LabelSelector {
  const matchLabels: Record<string, string> = {};
  const matchExpressions: LabelSelectorRequirement[] = [];
  const bad = (part: string, why: string): never => {
    throw new UsageError(
      `${flag} ${JSON.stringify(text)}: ${JSON.stringify(part)} ${why} (write key=value, key!=value, key in (a,b), key notin (a,b), key or !key, comma-separated)`,
    );
  };
  const key = (part: string, k: string): string => (KEY.test(k) ? k : bad(part, `has an invalid label key ${k}`));
  const value = (part: string, v: string): string =>
    VALUE.test(v) ? v : bad(part, `has an invalid label value ${JSON.stringify(v)}`);
  for (const [i, part] of splitTopLevel(text).entries()) {
    if (!part) bad(part, `(requirement ${i + 1}) is empty: remove the extra comma`);
    let m = /^(\S+)\s+(in|notin)\s*\(([^()]*)\)$/.exec(part);
    if (m) {
      const values = (m[3] ?? '').split(',').map((v) => value(part, v.trim()));
      matchExpressions.push({ key: key(part, m[1] ?? ''), operator: m[2] === 'in' ? 'In' : 'NotIn', values });
      continue;
    }
    m = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(part);
    if (m) {
      const k = key(part, m[1] ?? '');
      const v = value(part, m[3] ?? '');
      if (m[2] === '!=') matchExpressions.push({ key: k, operator: 'NotIn', values: [v] });
      else if (k in matchLabels && matchLabels[k] !== v) bad(part, `contradicts ${k}=${matchLabels[k] ?? ''}`);
      else matchLabels[k] = v;
      continue;
    }
    m = /^(!?)\s*([^\s!=(),]+)$/.exec(part);
    if (m) {
      matchExpressions.push({ key: key(part, m[2] ?? ''), operator: m[1] ? 'DoesNotExist' : 'Exists' });
      continue;
    }
    bad(part, 'is not a label requirement');
  }
  return {
    ...(Object.keys(matchLabels).length ? { matchLabels } : {}),
    ...(matchExpressions.length ? { matchExpressions } : {}),
  };
}

/** `k=v` pairs (repeatable or comma-separated) as a node selector map; equality only, as the CRD's. */
export function parseNodeSelector(values: string[]): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const part of values.flatMap((v) => v.split(',')).map((p) => p.trim())) {
    const m = /^([^=\s]+)=([^=\s]*)$/.exec(part);
    if (!m || !KEY.test(m[1] ?? '') || !VALUE.test(m[2] ?? ''))
      throw new UsageError(
        `--node-selector ${JSON.stringify(part)}: a node selector is key=value (repeat the flag or separate with commas), e.g. kubernetes.io/hostname=node-1`,
      );
    out[m[1] ?? ''] = m[2] ?? '';
  }
  return Object.keys(out).length ? out : undefined;
}
