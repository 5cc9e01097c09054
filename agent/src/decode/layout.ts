// The record layout, read from the BTF of the very object that writes the records: the C structs
// are the one source. A record is the base (struct retrace_event) followed by the collectors'
// parts (struct retrace_parts); a struct that differs from the skeleton the agent was built with
// (agent/src/gen/probe-skeleton.ts) is an error at start, not a misread record later.
import { KernelBtf, bpfObjectPath, type StructLayout } from '@retrace/ebpf-loader';
import { RetracePart, RetraceProbeFlags, RetraceSection, STRUCTS } from '../gen/probe-skeleton.js';

export const EVENT_VERSION = 1;

/** Section bits of retrace_event.present (enum retrace_section, from the object's BTF). */
export const Sec = RetraceSection;

/** Probe flags of probe_config.flags (enum retrace_probe_flags, from the object's BTF). */
export const ProbeFlag = RetraceProbeFlags;

/** A collector that has a part of the record (bpf/collectors/NAME.bpf.h). */
export type PartName = keyof typeof RetracePart;

/** Structs the object keeps in its BTF (the skeleton's names). */
export type StructName = keyof typeof STRUCTS;

export class LayoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LayoutError';
  }
}

export interface RecordLayouts {
  /** struct retrace_event: the base record, which every record has. */
  event: StructLayout;
  /** struct retrace_record: the base record, then the parts. */
  record: StructLayout;
  /** struct retrace_parts: every collector's part, in order. */
  parts: StructLayout;
  /** Any struct the object keeps (retrace_ct, probe_config, ...). */
  struct(name: StructName): StructLayout;
}

/** Where a collector's part sits in a record, its end, and its bit in present. */
export interface PartPlace {
  offset: number;
  end: number;
  bit: number;
}

export function partPlace(layouts: RecordLayouts, name: PartName): PartPlace {
  const f = layouts.parts.fields[name];
  if (!f) throw new LayoutError(`struct retrace_parts has no ${name} part: rebuild with make build`);
  const offset = (layouts.record.fields['parts']?.offset ?? layouts.event.size) + f.offset;
  return { offset, end: offset + f.size, bit: Sec.PART_0 * 2 ** RetracePart[name] };
}

/** Every record has at least the base. */
export function baseRecordSize(layouts: RecordLayouts): number {
  return layouts.event.size;
}

function sameLayout(a: StructLayout, b: (typeof STRUCTS)[StructName]): boolean {
  const fields: Record<string, { offset: number; size: number }> = b.fields;
  const names = Object.keys(fields);
  return (
    a.size === b.size &&
    names.length === Object.keys(a.fields).length &&
    names.every((n) => a.fields[n]?.offset === fields[n]?.offset && a.fields[n]?.size === fields[n]?.size)
  );
}

export function loadLayouts(objectPath = bpfObjectPath('probe')): RecordLayouts {
  const btf = KernelBtf.file(objectPath);
  const read = new Map<string, StructLayout>();
  try {
    // The record itself first: an object that is not retrace's probe lacks it.
    const names = (Object.keys(STRUCTS) as StructName[]).sort(
      (a, b) => +(b === 'retrace_event') - +(a === 'retrace_event'),
    );
    for (const name of names) {
      const l = btf.structLayout(name);
      if (!l) throw new LayoutError(`struct ${name} is missing from ${objectPath}; rebuild with make build`);
      if (!sameLayout(l, STRUCTS[name]))
        throw new LayoutError(
          `struct ${name} in ${objectPath} differs from the one the agent was built with ` +
            '(agent/src/gen/probe-skeleton.ts): decoder and BPF differ; rebuild with make build',
        );
      read.set(name, l);
    }
  } finally {
    btf.close();
  }
  const struct = (name: StructName): StructLayout => read.get(name) as StructLayout;
  return { event: struct('retrace_event'), record: struct('retrace_record'), parts: struct('retrace_parts'), struct };
}
