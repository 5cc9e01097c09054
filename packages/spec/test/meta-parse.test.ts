// The meta filter language: comparisons, masks, casts, && / ||, and errors saying where and why.
import { parseMetaFilter, MetaFilterSyntaxError } from '@retrace/spec';

test('parses comparisons, masks, casts, && / || left to right, parentheses', () => {
  expect(parseMetaFilter("sk_buff.dev.name == 'eth0'")).toMatchObject({
    kind: 'cmp',
    path: ['dev', 'name'],
    op: '==',
    value: 'eth0',
  });
  expect(parseMetaFilter('sk_buff.mark')).toMatchObject({ op: '!=', value: 0n });
  expect(parseMetaFilter('sk_buff.mark:0xff00 == 0x100')).toMatchObject({ mask: 0xff00n, value: 0x100n });
  expect(parseMetaFilter('sk_buff._nfct:~0x7:nf_conn.mark == 3')).toMatchObject({
    mask: 0xfffffffffffffff8n,
    cast: { struct: 'nf_conn', path: ['mark'] },
  });
  const e = parseMetaFilter('sk_buff.len > 100 && (sk_buff.mark == 1 or sk_buff.priority >= 0b11)');
  expect(e).toMatchObject({ kind: 'and', right: { kind: 'or', right: { value: 3n } } });
});

test.each([
  ['', /empty expression/],
  ['skb.mark == 1', /fields start at sk_buff/],
  ['sk_buff == 1', /name a field of sk_buff/],
  ["sk_buff.mark > 'x'", /strings compare with == or != only/],
  ['sk_buff.mark == 1 &&', /expected a field name/],
  ['(sk_buff.mark == 1', /expected '\)'/],
  ['sk_buff.mark == 1 $', /unexpected/],
])('refuses %j saying where and why', (src, message) => {
  expect(() => parseMetaFilter(src)).toThrow(MetaFilterSyntaxError);
  expect(() => parseMetaFilter(src)).toThrow(message);
});
