// A section of an event (skb-drop, dev, ct, ...) as a collector reads it from a record: each
// collector hands the record readers its codecs, so that the readers name no collector.
import { stringifyEvent, type Event } from '@retrace/events';
import { partPlace, type PartName, type RecordLayouts } from './layout.js';
import { checkPartRoom } from './record-header.js';
import type { JsonTemplate } from './json-template.js';

/** The record being read. Readers reuse one object per record: a codec must not keep it. */
export interface RecordRef {
  view: DataView;
  buf: Buffer;
  /** Offset of the record in buf (and view). */
  at: number;
  len: number;
  /** retrace_event.present */
  present: number;
}

/** The one RecordRef a reader points at each record in turn. */
export const recordRef = (): RecordRef => ({
  view: new DataView(new ArrayBuffer(0)),
  buf: Buffer.alloc(0),
  at: 0,
  len: 0,
  present: 0,
});

export interface SectionCodec {
  /** The event's key (its JSON name). */
  readonly key: string;
  /** Sets the section on the event when the record has it. */
  decodeInto(ev: Event, r: RecordRef): void;
  /**
   * The section's JSON as a template over the record (`,"key":{...}` when the record has the
   * section, nothing otherwise): the native formatter runs it, and so does the JS writer.
   */
  readonly template?: (t: JsonTemplate) => void;
  /**
   * A section without a template: the section bits that say a record has it (such records are
   * written in JS; without bits, every record is).
   */
  readonly bits?: number;
  /** The section's JSON from its decoder (`,"key":{...}`, or '' when the record lacks it). */
  decodedJson(r: RecordRef): string;
}

/**
 * A codec from a decoder and, for sections every record has, the template the JSON writers run
 * (written straight from the record, no Event in between); without one, JSON comes from the
 * decoded section.
 */
export function section<K extends keyof Event>(
  key: K,
  decode: (r: RecordRef) => Event[K] | undefined,
  template?: (t: JsonTemplate) => void,
  bits?: number,
): SectionCodec {
  return {
    key,
    decodeInto(ev, r) {
      const v = decode(r);
      if (v !== undefined) ev[key] = v;
    },
    ...(template ? { template } : {}),
    ...(bits !== undefined ? { bits } : {}),
    decodedJson(r) {
      const v = decode(r);
      // `,"key":...` in the schema's field order: the event's braces become the comma.
      return v === undefined ? '' : `,${stringifyEvent({ [key]: v } as Event).slice(1, -1)}`;
    },
  };
}

/** Codecs in the order the schema writes an event's sections (what stringifyEvent writes). */
export function inSchemaOrder(codecs: readonly SectionCodec[]): SectionCodec[] {
  const order = Object.keys(JSON.parse(stringifyEvent(Object.fromEntries(codecs.map((c) => [c.key, 0])) as Event)));
  return [...codecs].sort((a, b) => order.indexOf(a.key) - order.indexOf(b.key));
}

/**
 * The codec of a collector's part of the record (bpf/collectors/NAME.bpf.h): read when the
 * record's present has the part's bit, from the part's offset; a record too short for a part it
 * says it has is an error.
 */
export function partSection<K extends keyof Event>(
  key: K,
  layouts: RecordLayouts,
  part: PartName,
  decode: (view: DataView, buf: Buffer, at: number) => Event[K],
): SectionCodec {
  const place = partPlace(layouts, part);
  return section(
    key,
    (r) => {
      if (!(r.present & place.bit)) return undefined;
      checkPartRoom(r.len, place.end, part);
      return decode(r.view, r.buf, r.at + place.offset);
    },
    undefined,
    place.bit,
  );
}
