import { describe, expect, test } from '@jest/globals';
import { CelCompileError, CelEvalError, compile } from '../src/cel.js';
import type { Schema } from '../src/schema.js';

const schema: Schema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    count: { type: 'integer' },
    ratio: { type: 'number' },
    tags: { type: 'array', items: { type: 'string' } },
    limits: { type: 'object', additionalProperties: { type: 'integer' } },
    any: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
  },
};
const run = (rule: string, self: unknown, old?: unknown): boolean => compile(rule, schema).run(self, old);

describe('the CEL subset', () => {
  test('operators, literals, has, size, in, all and exists', () => {
    const self = { name: 'héllo', count: 3, tags: ['a', 'b'], limits: { cpu: 2 } };
    expect(run('self.count >= 3 && self.count < 4 && !(self.count == 2) && self.count != -1', self)).toBe(true);
    expect(run("size(self.name) == 5 && self.name > 'a' && self.tags.size() == 2", self)).toBe(true);
    expect(run("'b' in self.tags && !('z' in self.tags) && 'cpu' in self.limits", self)).toBe(true);
    expect(run('has(self.limits) && !has(self.any) && self.limits.cpu == 2', self)).toBe(true);
    expect(run("self.tags.all(t, t in ['a', 'b']) && self.tags.exists(t, t == 'b')", self)).toBe(true);
    expect(run('self.limits.all(k, self.limits.cpu > 1)', self)).toBe(true);
    expect(run('self.ratio > 1', { ratio: 1.5 })).toBe(true);
  });

  test('a missing field is an evaluation error, unless another operand decides', () => {
    expect(() => run('self.count == 1', {})).toThrow(CelEvalError);
    expect(run('self.count == 1 || true', {})).toBe(true);
    expect(run('false && self.count == 1', {})).toBe(false);
    expect(run('self.count == 1 && false', {})).toBe(false);
  });

  test('transition rules see oldSelf', () => {
    const rule = compile('self.count >= oldSelf.count', schema);
    expect(rule.transition).toBe(true);
    expect(rule.run({ count: 2 }, { count: 3 })).toBe(false);
    expect(compile('self.count > 0', schema).transition).toBe(false);
  });

  test('what the subset or the type checker refuses', () => {
    for (const [rule, message] of [
      ['self.count + 1 > 2', "unsupported CEL construct '+'"],
      ['self.name.startsWith("a")', "unsupported CEL construct function 'startsWith'"],
      ['self.count > 1.5', "unsupported CEL construct '1.5'"],
      ['self.tags[0] == "a"', "unsupported CEL construct '[' (indexing)"],
      ['self.count == 1 ? true : false', "unsupported CEL construct '?'"],
      ['matches(self.name, "x")', "unsupported CEL construct function 'matches'"],
      ['self.nope == 1', "undefined field 'nope'"],
      ['self.name < 3', "found no matching overload for '<' applied to '(string, int)'"],
      ['self.count', 'rule must evaluate to a bool'],
      ['other == 1', "undeclared reference to 'other'"],
      ['has(self)', 'invalid argument to has() macro'],
    ]) {
      expect(() => compile(rule ?? '', schema)).toThrow(CelCompileError);
      expect(() => compile(rule ?? '', schema)).toThrow(message);
    }
    expect(run('self.any.whatever == 1', { any: { whatever: 1 } })).toBe(true);
  });
});
