// Typed errors a caller can test for with `instanceof` (or by `code`), each with
// a one-line message a CLI can print as it is.

export class EbpfError extends Error {
  /** errno name ('EPERM', 'ENOENT'...) or one of this library's codes. */
  readonly code: string;
  constructor(message: string, code: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * The native addon could not be loaded; the message lists what was tried and
 * the fix. `reason` says why: 'glibc-too-old', 'musl', 'wrong-architecture',
 * 'missing-library', 'corrupt-file', 'not-found', 'unsupported-os' or 'unknown'.
 */
export class NativeLoadError extends EbpfError {
  readonly reason: string;
  constructor(message: string, reason: string, cause?: unknown) {
    super(message, 'ENATIVE', { cause });
    this.reason = reason;
  }
}

/** The kernel refused a program; `log` holds libbpf's output, with the verifier log. */
export class LoadError extends EbpfError {
  readonly log: string;
  constructor(message: string, code: string, log: string, cause?: unknown) {
    super(message, code, { cause });
    this.log = log;
  }
}

/** A program could not be attached to its hook. */
export class AttachError extends EbpfError {
  readonly program: string;
  readonly log: string;
  constructor(message: string, code: string, program: string, log: string, cause?: unknown) {
    super(message, code, { cause });
    this.program = program;
    this.log = log;
  }
}

export type PreflightKind = 'not-root' | 'no-btf' | 'no-tracefs' | 'no-tracepoint' | 'no-bpf';

/** The machine cannot run a tool: missing privilege or kernel feature. */
export class PreflightError extends EbpfError {
  readonly kind: PreflightKind;
  constructor(kind: PreflightKind, message: string) {
    super(message, `E${kind.toUpperCase().replace(/-/g, '_')}`);
    this.kind = kind;
  }
}

/** A user-facing option was wrong: bad value, unknown name. */
export class UsageError extends EbpfError {
  constructor(message: string) {
    super(message, 'EUSAGE');
  }
}

/** Used after close(). */
export class ClosedError extends EbpfError {
  constructor(what: string) {
    super(`${what} is closed`, 'ECLOSED');
  }
}
