// Flags that take comma lists and may be repeated (-c a,b -c c): the items, trimmed. An empty
// item (`skb,,dev`, a trailing comma, `-c ''`) is a typo that would otherwise pass unnoticed.

export class CommaListError extends Error {
  constructor(
    readonly option: string | undefined,
    readonly value: string,
    readonly position: number,
  ) {
    super(
      `${option ? `${option}: ` : ''}item ${position} of '${value}' is empty; ` +
        `remove the extra comma (items are separated by single commas, e.g. 'a,b')`,
    );
    this.name = 'CommaListError';
  }
}

/** `option` (e.g. '-c/--collectors') names the flag in the error for an empty item. */
export function commaList(values: string | readonly string[], option?: string): string[] {
  const out: string[] = [];
  for (const value of typeof values === 'string' ? [values] : values) {
    const items = value.split(',').map((s) => s.trim());
    items.forEach((item, i) => {
      if (!item) throw new CommaListError(option, value, i + 1);
    });
    out.push(...items);
  }
  return out;
}
