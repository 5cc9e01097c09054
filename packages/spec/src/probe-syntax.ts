// Probe syntax (retis's, plus fentry/fexit and USDT): parsed here, resolved against a kernel by the agent.
import { ProbeSyntaxError } from './errors.js';

export type ProbeKind = 'kprobe' | 'kretprobe' | 'tracepoint' | 'fentry' | 'fexit' | 'usdt';

/** A probe as the user wrote it, parsed but not yet resolved against the kernel. */
export interface ProbeSpec {
  text: string;
  kind: ProbeKind;
  /** Function name, or `category:event` for tracepoints; may contain `*` wildcards. */
  target: string;
  stack: boolean;
  usdt?: { binary: string; provider: string; name: string };
}

const KINDS: Record<string, ProbeKind> = {
  kprobe: 'kprobe',
  k: 'kprobe',
  kretprobe: 'kretprobe',
  kr: 'kretprobe',
  tp: 'tracepoint',
  raw_tracepoint: 'tracepoint',
  fentry: 'fentry',
  fexit: 'fexit',
};

/**
 * Parses `[TYPE:]TARGET[/stack]` (retis syntax plus fentry/fexit) and `usdt:BINARY:PROVIDER:NAME`.
 * Without a type, a target with exactly one `:` is a tracepoint, anything else a kprobe.
 */
export function parseProbe(text: string): ProbeSpec {
  const spec = text.trim();
  if (!spec) throw new ProbeSyntaxError(text, 'empty');
  if (spec.startsWith('usdt:')) {
    const rest = spec.slice(5);
    const parts = rest.split(':');
    if (parts.length !== 3 || parts.some((p) => !p))
      throw new ProbeSyntaxError(text, 'a USDT probe is usdt:BINARY:PROVIDER:NAME');
    const [binary = '', provider = '', name = ''] = parts;
    return { text: spec, kind: 'usdt', target: `${provider}:${name}`, stack: false, usdt: { binary, provider, name } };
  }
  let body = spec;
  let stack = false;
  const slash = body.indexOf('/');
  if (slash >= 0) {
    const opts = body.slice(slash + 1).split(',');
    body = body.slice(0, slash);
    for (const o of opts) {
      if (o === 'stack') stack = true;
      else throw new ProbeSyntaxError(text, `unknown option '/${o}' (only /stack exists)`);
    }
  }
  const colons = body.split(':');
  let kind: ProbeKind;
  let target: string;
  const first = colons[0] ?? '';
  if (colons.length >= 2 && KINDS[first] !== undefined) {
    kind = KINDS[first] as ProbeKind;
    target = colons.slice(1).join(':');
  } else if (colons.length === 2) {
    kind = 'tracepoint';
    target = body;
  } else if (colons.length === 1) {
    kind = 'kprobe';
    target = body;
  } else {
    throw new ProbeSyntaxError(text, `unknown probe type '${first}'`);
  }
  if (!target) throw new ProbeSyntaxError(text, 'no target');
  // A one-part wildcard (tp:*skb*) matches whole `category:name` strings, as retis does.
  const oneWildcard = target.includes('*') && !target.includes(':');
  if (kind === 'tracepoint' && target.split(':').length !== 2 && !oneWildcard)
    throw new ProbeSyntaxError(text, 'a tracepoint is CATEGORY:NAME, e.g. tp:net:netif_receive_skb');
  if (kind !== 'tracepoint' && target.includes(':'))
    throw new ProbeSyntaxError(text, `a ${kind} target is a function name`);
  if (!/^[A-Za-z0-9_.*:]+$/.test(target)) throw new ProbeSyntaxError(text, `'${target}' is not a symbol name`);
  return { text: spec, kind, target, stack };
}

/** `*` wildcards to a whole-string regular expression. */
export function wildcard(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`);
}
