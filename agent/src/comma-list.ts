// Flags that take comma lists and may be repeated (-c a,b -c c): the items, trimmed, empty ones dropped.
export function commaList(values: string | readonly string[]): string[] {
  return (typeof values === 'string' ? [values] : values)
    .flatMap((v) => v.split(','))
    .map((s) => s.trim())
    .filter(Boolean);
}
