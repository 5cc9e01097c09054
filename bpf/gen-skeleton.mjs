#!/usr/bin/env node
// Generates agent/src/gen/probe-skeleton.ts from bpf/.output/probe.bpf.o: the names the agent
// uses to drive the object (programs and their ELF sections, maps with their type and
// max_entries, the .rodata settings with their types), the values of the enums and the layouts
// of the structs the C keeps in its BTF (RETRACE_BTF_TYPE / RETRACE_BTF_ENUM, compat.bpf.h).
// The agent imports these instead of keeping copies. Run by `make -C bpf` after the object is
// built; `node bpf/gen-skeleton.mjs --check` (part of `make lint`) fails when the committed file
// is out of date. Reads the BTF with `bpftool btf dump -j` and the symbols with `readelf`.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bpfDir = dirname(fileURLToPath(import.meta.url));
const object = process.env.RETRACE_SKELETON_OBJECT ?? join(bpfDir, '.output', 'probe.bpf.o');
const target = join(bpfDir, '..', 'agent', 'src', 'gen', 'probe-skeleton.ts');

/** Code-point order: the same output whatever the locale. */
const cmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
const byName0 = (a, b) => cmp(a[0], b[0]);

const run = (cmd, args) => {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 << 20 });
  } catch (e) {
    console.error(`gen-skeleton: ${cmd} ${args.join(' ')} failed (${e.message}); build the object first: make -C bpf`);
    process.exit(1);
  }
};

const btf = JSON.parse(run(process.env.BPFTOOL ?? 'bpftool', ['btf', 'dump', 'file', object, '-j']));
const types = new Map(btf.types.map((t) => [t.id, t]));
const byKind = (kind) => btf.types.filter((t) => t.kind === kind);
const datasec = (name) =>
  byKind('DATASEC')
    .find((d) => d.name === name)
    ?.vars.map((v) => types.get(v.type_id)) ?? [];

/** Follows typedefs and qualifiers. */
function resolve(id) {
  let t = types.get(id);
  while (t && ['TYPEDEF', 'CONST', 'VOLATILE', 'RESTRICT', 'TYPE_TAG'].includes(t.kind)) t = types.get(t.type_id);
  return t;
}

function sizeOf(id) {
  const t = resolve(id);
  if (!t) return 0;
  if (t.kind === 'ARRAY') return t.nr_elems * sizeOf(t.type_id);
  if (t.kind === 'PTR') return 8;
  return t.size ?? 0;
}

// Programs: global functions in a section of their own (.text holds subprograms and libbpf's
// USDT helpers).
const sections = new Map();
for (const m of run(process.env.READELF ?? 'readelf', ['-SW', object]).matchAll(/^\s*\[\s*(\d+)\]\s+(\S+)/gm))
  sections.set(m[1], m[2]);
const programs = [];
for (const line of run(process.env.READELF ?? 'readelf', ['-sW', object]).split('\n')) {
  const f = line.trim().split(/\s+/);
  // Num: Value Size Type Bind Vis Ndx Name
  if (f.length < 8 || f[3] !== 'FUNC' || f[4] !== 'GLOBAL') continue;
  const section = sections.get(f[6]);
  if (section && section !== '.text') programs.push([f[7], section]);
}
programs.sort(byName0);

// Maps: the .maps variables; type and max_entries are encoded as array lengths (__uint()).
const maps = datasec('.maps')
  .map((v) => {
    const def = resolve(v.type_id);
    const field = (name) => {
      const m = def.members.find((x) => x.name === name);
      return m ? resolve(resolve(m.type_id).type_id)?.nr_elems : undefined;
    };
    return [v.name, { type: field('type'), maxEntries: field('max_entries') ?? 0 }];
  })
  .sort(byName0);

// Settings: .rodata (const volatile) variables.
function tsType(id) {
  const t = resolve(id);
  if (t?.kind === 'INT' && t.encoding === 'BOOL') return 'boolean';
  if (t?.kind === 'INT' || t?.kind === 'ENUM') return t.size === 8 ? 'bigint' : 'number';
  return 'Buffer';
}
const globals = datasec('.rodata')
  .map((v) => [v.name, tsType(v.type_id)])
  .sort(byName0);

// Kept types: the variables RETRACE_BTF_TYPE / RETRACE_BTF_ENUM declare point at them.
const kept = datasec('.bss').filter((v) => v.name.startsWith('__retrace_btf_'));
const keptTarget = (v) => resolve(resolve(v.type_id).type_id);
const enums = kept
  .filter((v) => v.name.startsWith('__retrace_btf_enum_'))
  .map(keptTarget)
  .sort((a, b) => cmp(a.name, b.name));
const structs = new Map();
function addStruct(t) {
  if (!t || t.kind !== 'STRUCT' || !t.name || structs.has(t.name)) return;
  structs.set(t.name, t);
  for (const m of t.members) {
    let inner = resolve(m.type_id);
    while (inner?.kind === 'ARRAY') inner = resolve(inner.type_id);
    addStruct(inner);
  }
}
for (const v of kept) if (!v.name.startsWith('__retrace_btf_enum_')) addStruct(keptTarget(v));

const pascal = (s) => s.replace(/(^|_)([a-z])/g, (_m, _u, c) => c.toUpperCase());
/** SEC_TRACKING, SEC_DROP -> TRACKING, DROP: the common prefix up to its last underscore goes. */
function shortNames(values) {
  let prefix = values[0]?.name ?? '';
  for (const v of values) while (!v.name.startsWith(prefix)) prefix = prefix.slice(0, -1);
  prefix = prefix.slice(0, prefix.lastIndexOf('_') + 1);
  return values.map((v) => [v.name.slice(prefix.length), v.val]);
}
const key = (k) => (/^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k));

let out = `// Generated by bpf/gen-skeleton.mjs from bpf/.output/probe.bpf.o (its BTF and symbols). Do not
// edit: \`make -C bpf\` regenerates it, \`make lint\` checks it is up to date.

/** The object's programs and their ELF sections. */
export const PROGRAMS = {
${programs.map(([n, s]) => `  ${n}: '${s}',`).join('\n')}
} as const;
export type ProgramName = keyof typeof PROGRAMS;

/** The object's maps: BPF_MAP_TYPE_* and max_entries as compiled. */
export const MAPS = {
${maps.map(([n, m]) => `  ${key(n)}: { type: ${m.type}, maxEntries: ${m.maxEntries} },`).join('\n')}
} as const;
export type MapName = keyof typeof MAPS;

/** The object's settings (.rodata, \`const volatile\`), fixed before load. */
export interface ProbeGlobals {
${globals.map(([n, t]) => `  ${n}: ${t};`).join('\n')}
}
`;
for (const e of enums) {
  out += `\n/** enum ${e.name} */\nexport const ${pascal(e.name)} = {\n`;
  out += shortNames(e.values)
    .map(([k, v]) => `  ${key(k)}: ${v},`)
    .join('\n');
  out += '\n} as const;\n';
}
out +=
  '\n/** Layouts of the structs the object keeps in its BTF: size and members (byte offset, size). */\nexport const STRUCTS = {\n';
for (const t of [...structs.values()].sort((a, b) => cmp(a.name, b.name))) {
  out += `  ${t.name}: {\n    size: ${t.size},\n    fields: {\n`;
  for (const m of t.members)
    out += `      ${key(m.name)}: { offset: ${m.bits_offset / 8}, size: ${sizeOf(m.type_id)} },\n`;
  out += '    },\n  },\n';
}
out += '} as const;\n';

if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    // missing: out of date
  }
  if (current !== out) {
    console.error(`${target} is out of date with ${object}: run make -C bpf (or node bpf/gen-skeleton.mjs)`);
    process.exit(1);
  }
} else {
  let current;
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    current = undefined;
  }
  if (current !== out) writeFileSync(target, out);
}
