// An output must never be one of the command's inputs: opening it for writing truncates the file
// being read (and appending to it feeds the reader its own output). Same file means same device
// and inode, so symbolic and hard links are caught; checked before the output is opened.
import { fstatSync, statSync } from 'node:fs';
import { UsageError } from '../usage-error.js';

/** A file a command reads: what it is to the user (e.g. 'the events file') and its path. */
export interface InputFile {
  what: string;
  /** `-` is standard input. */
  path: string;
}

export class OutputIsInputError extends UsageError {
  constructor(
    readonly output: string,
    readonly input: InputFile,
    flag: string,
  ) {
    const out = output === '-' ? 'standard output' : `${flag} ${output}`;
    const inp = input.path === '-' ? `${input.what} (standard input)` : `${input.what} ${input.path}`;
    const link = output !== '-' && input.path !== '-' && output !== input.path ? ' (through a link)' : '';
    super(
      `${out} is the same file as ${inp}${link}: writing it would destroy what retrace reads; ` +
        (output === '-' ? 'redirect the output to another file' : `choose another ${flag}`),
    );
    this.name = 'OutputIsInputError';
  }
}

interface Identity {
  dev: bigint;
  ino: bigint;
}

/** Device and inode of a path (following links), or of stdin/stdout when they are regular files. */
function identity(path: string, fd: 0 | 1): Identity | undefined {
  try {
    const s = path === '-' ? fstatSync(fd, { bigint: true }) : statSync(path, { bigint: true });
    // Pipes and terminals are not files a writer can destroy; /dev/null is not an input worth keeping.
    return s.isFile() ? { dev: s.dev, ino: s.ino } : undefined;
  } catch {
    return undefined; // an output that does not exist yet is no input
  }
}

/**
 * Throws OutputIsInputError when `output` (`-`: standard output) is one of `inputs`. `flag` names
 * the output option in the message (e.g. '-o').
 */
export function refuseOverwrite(flag: string, output: string | undefined, inputs: readonly InputFile[]): void {
  if (output === undefined) return;
  const out = identity(output, 1);
  if (!out) return;
  for (const input of inputs) {
    const id = identity(input.path, 0);
    if (id && id.dev === out.dev && id.ino === out.ino) throw new OutputIsInputError(output, input, flag);
  }
}
