// Typed errors: every failure says what was attempted, why it failed, and what to do.

/** Raw shape of errors thrown by the addon. */
export interface NativeErrorShape {
  message: string;
  errno?: number;
  code?: string;
  libbpfLog?: string;
}

// Duck-typed: errors made by the addon may come from another realm (e.g. a test VM context).
function isNativeError(e: unknown): e is Error & NativeErrorShape {
  return typeof e === 'object' && e !== null && typeof (e as { message?: unknown }).message === 'string';
}

export class EbpfError extends Error {
  readonly errno: number;
  readonly code: string;
  /** What libbpf printed while the failing call ran (may be empty). */
  readonly libbpfLog: string;

  constructor(message: string, cause: NativeErrorShape | undefined = undefined) {
    super(message, cause ? { cause } : undefined);
    this.name = new.target.name;
    this.errno = cause?.errno ?? 0;
    this.code = cause?.code ?? 'EUNKNOWN';
    this.libbpfLog = cause?.libbpfLog ?? '';
  }
}

export class NativeModuleMissingError extends Error {
  constructor(searched: string[]) {
    super(
      `the ebpf-loader native addon is not built (looked for ${searched.join(', ')}); ` +
        'run `make build` (or `npm run build:native -w @retrace/ebpf-loader`) after `make deps`',
    );
    this.name = 'NativeModuleMissingError';
  }
}

/** Hints for errno values users meet when loading or attaching. */
export function errnoHint(code: string): string {
  switch (code) {
    case 'EPERM':
      return 'run as root or with CAP_BPF + CAP_PERFMON (and CAP_SYS_ADMIN where the kernel needs it); kernel lockdown or a BPF LSM may also refuse';
    case 'ENOENT':
      return 'the target does not exist on this kernel (check `retrace inspect`)';
    case 'ENOTSUP':
    case 'EOPNOTSUPP':
      return 'this kernel does not support this attach kind';
    case 'E2BIG':
      return 'the program or map is too large for this kernel';
    case 'EACCES':
      return 'the verifier refused the program; see the verifier log';
    default:
      return '';
  }
}

/** The verifier's own words after the instruction trace, without its statistics lines. */
export function verifierVerdict(log: string): string {
  const lines = log.trim().split('\n');
  const lastInsn = lines.findLastIndex((l) => /^\d+: /.test(l));
  return lines
    .slice(lastInsn + 1)
    .filter((l) => l.trim() && !/^(processed \d+ insns|verification time|stack depth)/.test(l))
    .join('; ');
}

export class LoadError extends EbpfError {
  /** Name of the program the verifier refused, when libbpf said which. */
  readonly program: string | undefined;
  /** The verifier's log for that program (empty when the failure was not the verifier's). */
  readonly verifierLog: string;

  constructor(objectName: string, cause: NativeErrorShape) {
    const log = cause.libbpfLog ?? '';
    const prog =
      /prog '([^']+)': BPF program load failed/.exec(log)?.[1] ?? /prog '([^']+)': failed to load/.exec(log)?.[1];
    // Without a verifier log, libbpf's first complaint is the useful part.
    const libbpfCause = log
      .split('\n')
      .map((l) => l.replace(/^libbpf: /, ''))
      .find((l) => l.trim() && !/failed to (load|prepare load attributes)|failed to load object/.test(l));
    const vlog = /-- BEGIN PROG LOAD LOG --\n([\s\S]*?)-- END PROG LOAD LOG --/.exec(log)?.[1] ?? '';
    const lastLine = verifierVerdict(vlog);
    const hint = errnoHint(cause.code ?? '');
    super(
      `loading ${objectName} failed${prog ? ` (program ${prog})` : ''}: ${cause.message}` +
        (lastLine ? `; verifier: ${lastLine}` : libbpfCause ? `; libbpf: ${libbpfCause}` : '') +
        (hint ? `; ${hint}` : ''),
      cause,
    );
    this.program = prog;
    this.verifierLog = vlog;
  }
}

export class AttachError extends EbpfError {
  readonly target: string;

  constructor(target: string, cause: NativeErrorShape, advice = '') {
    const hint = advice || errnoHint(cause.code ?? '');
    super(`attaching ${target} failed: ${cause.message}${hint ? `; ${hint}` : ''}`, cause);
    this.target = target;
  }
}

export class MapError extends EbpfError {}
export class BtfError extends EbpfError {}
export class ObjectError extends EbpfError {}

export class PcapFilterError extends Error {
  readonly expression: string;
  readonly pcapMessage: string;

  constructor(expression: string, pcapMessage: string) {
    super(`invalid packet filter '${expression}': ${pcapMessage}`);
    this.name = 'PcapFilterError';
    this.expression = expression;
    this.pcapMessage = pcapMessage;
  }
}

/** Runs a native call, turning its error into `wrap(nativeError)`. */
export function nativeCall<T>(fn: () => T, wrap: (e: NativeErrorShape) => Error): T {
  try {
    return fn();
  } catch (e) {
    if (isNativeError(e) && e.name !== 'TypeError') throw wrap(e);
    throw e;
  }
}
