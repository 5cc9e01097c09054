// What the trace store reports: errors it throws, and warnings about damage it found and what it
// did about it (the store goes on).

/** A problem found (a damaged record or file, a refused write), with what was done about it. */
export interface StoreWarning {
  trace: string;
  file: string;
  /** Byte offset in the file where the problem starts. */
  offset: number;
  message: string;
  /** Bytes skipped or cut off, when the warning is about damaged records. */
  bytes?: number;
  /** Records lost in them, when their sequence numbers say. */
  records?: number;
}

/** A warning about a file its reporter already names (the trace and the file filled in by it). */
export type FileWarning = Omit<StoreWarning, 'trace' | 'file'>;

/** Misuse of the store: bad options, a closed store, a name it cannot take. */
export class StoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreError';
  }
}

/** The disk refused a write or an fsync of the store (full, read-only, failing). */
export class StoreWriteError extends Error {
  constructor(
    readonly file: string,
    override readonly cause: NodeJS.ErrnoException,
  ) {
    super(
      `${file}: ${cause.code === 'ENOSPC' ? 'the disk is full' : cause.message}; ` +
        'events are kept unacknowledged (agents buffer, then count what they drop) until the store can write again',
    );
    this.name = 'StoreWriteError';
  }
}

/** A state document that cannot be read (damaged, or not JSON). */
export class StateFileError extends StoreError {
  constructor(
    readonly file: string,
    /** What was wrong, as the reader said it. */
    readonly reason: string,
  ) {
    super(`${file}: unreadable (${reason})`);
    this.name = 'StateFileError';
  }
}
