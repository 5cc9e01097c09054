// Comma lists: items trimmed, repeated flags joined; an empty item is an error with its place.
import { commaList } from '@retrace/spec';

test('items are trimmed and repeated values joined in order', () => {
  expect(commaList(' skb , dev')).toEqual(['skb', 'dev']);
  expect(commaList(['skb,dev', 'nft'])).toEqual(['skb', 'dev', 'nft']);
  expect(commaList([])).toEqual([]);
});

test('an empty item names the option, the value and the position', () => {
  expect(() => commaList('skb,,skb-drop', '-c/--collectors')).toThrow(
    "-c/--collectors: item 2 of 'skb,,skb-drop' is empty; remove the extra comma",
  );
  expect(() => commaList(['skb', 'dev,'], '-c/--collectors')).toThrow("item 2 of 'dev,' is empty");
  expect(() => commaList(' , ')).toThrow("item 1 of ' , ' is empty");
  expect(() => commaList('')).toThrow("item 1 of '' is empty");
});
