// The meta filter's compilation against this kernel's BTF (its language: packages/spec/test/meta-parse.test.ts).
import { compileMetaFilter, MetaFilterFieldError } from '@retrace/agent';

test('an unknown field gets close matches from BTF; type mismatches are named', () => {
  expect(() => compileMetaFilter('sk_buff.mrak == 1')).toThrow(MetaFilterFieldError);
  expect(() => compileMetaFilter('sk_buff.mrak == 1')).toThrow(/struct sk_buff has no field 'mrak'; did you mean mark/);
  expect(() => compileMetaFilter("sk_buff.mark == 'x'")).toThrow(/is not a string/);
  expect(() => compileMetaFilter('sk_buff.dev.name == 3')).toThrow(/is not a number/);
  expect(() => compileMetaFilter('sk_buff.len.x == 3')).toThrow(/not a struct or a pointer/);
});

test('compiles to eBPF instructions (16-byte immediates included)', () => {
  const c = compileMetaFilter("sk_buff.dev.name == 'veth0' || sk_buff.mark:0xffff0000 == 0x10000");
  expect(c.insns.length % 8).toBe(0);
  expect(c.insns.length / 8).toBeGreaterThan(20);
});
