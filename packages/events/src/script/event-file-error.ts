// The scripting API's one error type: it names the file and says what to do.
export class EventFileError extends Error {
  constructor(
    message: string,
    /** The file (or set) the error is about. */
    readonly path: string,
  ) {
    super(message);
    this.name = 'EventFileError';
  }
}
