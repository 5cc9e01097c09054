// The skb collector's sections (--skb-sections, a Trace's skbSections): what of the packet it records.
import type { TraceResourceSpec } from './gen/trace-types.js';

export type SkbSection = NonNullable<TraceResourceSpec['skbSections']>[number];

export const SKB_SECTIONS = ['meta', 'dataref', 'gso', 'packet'] as const satisfies readonly SkbSection[];

export const isSkbSection = (s: string): s is SkbSection => (SKB_SECTIONS as readonly string[]).includes(s);

// Every section of the CRDs' enum is here (the reverse holds by `satisfies`).
const _everyCrdSectionHere: [Exclude<SkbSection, (typeof SKB_SECTIONS)[number]>] extends [never] ? true : never = true;
