// `retrace profile list`: every profile along the search path, with what it is for and its
// file; a name found again in a later directory is marked as hidden by the first.
import { profileDirs, scanDirectory } from '@retrace/spec';

export function profileList(extraDirs: readonly string[]): number {
  const rows: { name: string; about: string; file: string; note: string }[] = [];
  const firstDir = new Map<string, string>();
  for (const dir of profileDirs(extraDirs)) {
    const scan = scanDirectory(dir);
    for (const w of scan.warnings) process.stderr.write(`${w}\n`);
    for (const b of scan.broken) process.stderr.write(`warning: skipped ${b.message}\n`);
    const seen = new Map<string, string>();
    for (const p of scan.profiles) {
      const twin = seen.get(p.name);
      if (twin)
        process.stderr.write(
          `warning: profile ${p.name} is defined in both ${twin} and ${p.file}; -p ${p.name} fails\n`,
        );
      seen.set(p.name, p.file);
      const first = firstDir.get(p.name);
      if (first === undefined) firstDir.set(p.name, dir);
      rows.push({
        name: p.name,
        about: p.about,
        file: p.file,
        note: first !== undefined && first !== dir ? ` (hidden by the one in ${first})` : '',
      });
    }
  }
  if (!rows.length) {
    process.stderr.write(`no profiles found in ${profileDirs(extraDirs).join(', ')}\n`);
    return 0;
  }
  const width = Math.max(...rows.map((r) => r.name.length));
  for (const r of rows)
    process.stdout.write(`${r.name.padEnd(width)}  ${r.about}\n${' '.repeat(width)}  ${r.file}${r.note}\n`);
  return 0;
}
