// Reading fields of JSON objects whose shape is not known in advance (older retis layouts,
// earlier retrace files), without `any`: what is not the expected type reads as undefined.
export type Obj = Record<string, unknown>;

export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A number, also from a bigint or a decimal string (64-bit values in some layouts). */
export const num = (o: Obj, k: string): number | undefined => {
  const v = o[k];
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return Number(v);
  return undefined;
};

export const str = (o: Obj, k: string): string | undefined => (typeof o[k] === 'string' ? (o[k] as string) : undefined);

export const bool = (o: Obj, k: string): boolean | undefined =>
  typeof o[k] === 'boolean' ? (o[k] as boolean) : undefined;
