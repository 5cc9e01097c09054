// An events file with no event in it is no capture: say so (as tcpdump does of an empty
// capture) rather than print nothing and succeed.

export class EmptyInputError extends Error {
  constructor(readonly path: string) {
    super(
      `${path === '-' ? 'standard input' : `events file ${path}`} holds no events (it is empty or has only blank lines): ` +
        'give an events file that retrace collect (or retis) wrote',
    );
    this.name = 'EmptyInputError';
  }
}
