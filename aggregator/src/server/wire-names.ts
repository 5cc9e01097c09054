// Names that arrive from the wire (node names, trace names, incarnations) go into logs, summaries
// and file names: checked before use, and escaped when printed, so that no peer can forge a log
// line or fill memory with a name.

/** Longest name taken: a Kubernetes node name (a DNS subdomain) is at most 253 characters. */
export const MAX_NAME = 253;

/** Why `name` cannot be used as a `what` (undefined when it can): DNS-subdomain characters only. */
export function nameProblem(name: string, what: string): string | undefined {
  if (name.length > MAX_NAME) return `the ${what} is ${name.length} characters long (at most ${MAX_NAME})`;
  if (!/^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/.test(name))
    return `the ${what} ${printable(name.slice(0, 80))} has characters other than letters, digits, '.', '-' and '_'`;
  return undefined;
}

/** A string as it may appear in a log line: quoted, control characters escaped, cut at 200 characters. */
export function printable(s: string): string {
  const cut = s.length > 200 ? `${s.slice(0, 200)}...` : s;
  return JSON.stringify(cut);
}
