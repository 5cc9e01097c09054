// Typed access to an event's sections by name, for scripts that pick sections dynamically.
import { messageFields } from '../descriptors.js';
import type { Event } from '../gen/event.js';

/** A section's name as files write it (`skb-tracking`, `skb-drop`, ...). */
export type SectionName = keyof Event;

let known: ReadonlySet<string> | undefined;

/** The names of the schema's sections an event has, in the event's own order. */
export function sectionsOf(ev: Event): SectionName[] {
  known ??= new Set(messageFields('Event').map((f) => f.json));
  const names = known;
  return (Object.keys(ev) as SectionName[]).filter((k) => names.has(k) && ev[k] !== undefined);
}

/** One section, typed by its name; undefined when the event lacks it. */
export function sectionOf<K extends SectionName>(ev: Event, name: K): Event[K] {
  return ev[name];
}
