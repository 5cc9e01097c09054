// Errors of output files: which file, the cause in words, and (for a write that failed part
// way) what was written and stays readable, and what was lost.

/** What a write error means to a user, from its errno code. */
export function causeInWords(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'ENOSPC':
      return 'the disk is full (no space left on device)';
    case 'EDQUOT':
      return 'the disk quota is used up';
    case 'EFBIG':
      return 'the file grew past the largest size this file system (or ulimit -f) allows';
    case 'EIO':
      return 'the disk reported an input/output error';
    case 'EROFS':
      return 'the file system is read-only';
    case 'EPIPE':
      return 'the reader of the output went away (broken pipe)';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOENT':
      return 'its directory does not exist';
    case 'EISDIR':
      return 'it is a directory';
    default:
      return e.message;
  }
}

function fixFor(e: NodeJS.ErrnoException, flag: string, path = ''): string {
  if (path === '-') return `write to a file with ${flag}`;
  if (e.code === 'ENOSPC' || e.code === 'EDQUOT')
    return `free some space, or choose another ${flag} on a disk with room`;
  return `choose another ${flag}`;
}

const name = (path: string): string => (path === '-' ? 'standard output' : path);

/** The output could not be created or opened. */
export class OutputOpenError extends Error {
  constructor(
    readonly path: string,
    readonly errno: NodeJS.ErrnoException,
    flag = '-o',
  ) {
    super(`cannot create output file ${path}: ${causeInWords(errno)}; ${fixFor(errno, flag)}`);
    this.name = 'OutputOpenError';
  }
}

/** What went (or did not go) to a file: lines or blocks of a kind, the events in them, bytes. */
export interface Tally {
  /** How many units (events, series, packets). */
  items: number;
  /** Events in them, when a unit holds several (series); else equal to items. */
  events: number;
}

export type Unit = 'event' | 'series' | 'journey' | 'packet';

function describe(t: Tally, unit: Unit): string {
  const items = `${t.items} ${unit === 'series' ? 'series' : t.items === 1 ? unit : `${unit}s`}`;
  return (unit === 'series' || unit === 'journey') && t.events !== t.items ? `${items} (${t.events} events)` : items;
}

/** A write to an output failed: the file holds `written` (readable up to there), `lost` never got there. */
export class OutputWriteError extends Error {
  constructor(
    readonly path: string,
    readonly errno: NodeJS.ErrnoException,
    readonly written: Tally & { bytes: number },
    readonly lost: Tally,
    readonly unit: Unit,
    flag = '-o',
  ) {
    const were = (t: Tally): string => (t.items === 1 && unit !== 'series' ? 'was' : 'were');
    const kept =
      path === '-'
        ? `${describe(written, unit)} (${written.bytes} bytes) ${were(written)} written`
        : `${name(path)} holds the ${describe(written, unit)} written before (${written.bytes} bytes), complete and readable`;
    super(
      `cannot write ${name(path)}: ${causeInWords(errno)}. ${kept}; ${describe(lost, unit)} could not be written and ${lost.items === 1 && unit !== 'series' ? 'is' : 'are'} lost. ` +
        `To keep everything, ${fixFor(errno, flag, path)}`,
    );
    this.name = 'OutputWriteError';
  }
}
