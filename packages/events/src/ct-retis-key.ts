// retis's `ct` section holds TCP, UDP and ICMP entries only (its tuple's `proto` has no other
// variant, and its reader refuses the whole file at one it does not know). retrace also follows
// SCTP, DCCP, GRE... entries: in JSON files those are written under `retrace-ct` (same layout),
// a section retis's readers skip, and read back into `ct`. Nothing is lost and retis's library
// still opens the file.
import { isObj, type Obj } from './json-fields.js';

export const RETRACE_CT_KEY = 'retrace-ct';

const RETIS_PROTOS = new Set(['tcp', 'udp', 'icmp']);

function tupleFits(t: unknown): boolean {
  if (!isObj(t)) return true;
  const p = t['proto'];
  return !isObj(p) || Object.keys(p).every((k) => RETIS_PROTOS.has(k));
}

/** Whether retis's ct section can hold this entry (and its parent). */
export function retisHoldsCt(ct: unknown): boolean {
  if (!isObj(ct)) return true;
  return tupleFits(ct['orig']) && tupleFits(ct['reply']) && retisHoldsCt(ct['parent']);
}

/** Reading: a `retrace-ct` section is the event's ct. */
export function ctFromRetraceKey(ev: Obj): void {
  const other = ev[RETRACE_CT_KEY];
  if (other === undefined) return;
  delete ev[RETRACE_CT_KEY];
  if (ev['ct'] === undefined) ev['ct'] = other;
}

/** Writing: the event as its JSON should hold it (ct moved under `retrace-ct` if retis cannot hold it). */
export function ctUnderRetisKey<T extends object>(ev: T): T {
  const ct = (ev as Obj)['ct'];
  if (ct === undefined || retisHoldsCt(ct)) return ev;
  return { ...ev, ct: undefined, [RETRACE_CT_KEY]: ct };
}
