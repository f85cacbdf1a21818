// Words the raw errors of the native layer (see binding.ts): the errno's name
// as a `code` ('EPERM'), its description, and the caller's context around it.
import { getSystemErrorMap, getSystemErrorName } from 'node:util';

/** What a failed native call said, decoded. */
export interface NativeFailure {
  /** The operation that failed ('bpf_object__load', 'find_map'...); '' when not a native error. */
  op: string;
  /** Positive errno; 0 when not a native error. */
  errno: number;
  /** The errno's name ('EPERM'), 'E<n>' for numbers without one. */
  code: string;
  /** The errno's description ('Operation not permitted'), or the error's message. */
  description: string;
  /** What libbpf printed during the call (for a failed load, the verifier log). */
  log: string;
}

/** The errno's name, as Node names system errors. */
export function errnoName(errno: number): string {
  // Linux's name; libuv calls 95 ENOTSUP (os.constants.errno has both).
  if (errno === 95) return 'EOPNOTSUPP';
  if (!Number.isInteger(errno) || errno <= 0) return `E${errno}`;
  const name = getSystemErrorName(-errno);
  return name.startsWith('E') ? name : `E${errno}`;
}

const descriptions = new Map<number, string>();
let strerror: ((errno: number) => string) | undefined;

/** @internal load.ts hands over the addon's strerror() once loaded. */
export function useStrerror(fn: (errno: number) => string): void {
  strerror = fn;
}

/** The description of an errno ('Permission denied'; libbpf's own for 4000 and up). */
export function errnoDescription(errno: number): string {
  let d = descriptions.get(errno);
  if (d === undefined) {
    d = strerror?.(errno) ?? getSystemErrorMap().get(-errno)?.[1] ?? `error ${errno}`;
    descriptions.set(errno, d);
  }
  return d;
}

interface ErrorShape {
  message?: string;
  op?: unknown;
  errno?: unknown;
  code?: unknown;
  description?: unknown;
  libbpfLog?: unknown;
}

/** Decodes an error thrown by the native layer (raw or already worded by load.ts). */
export function nativeFailure(err: unknown): NativeFailure {
  const e = (err ?? {}) as ErrorShape;
  const log = typeof e.libbpfLog === 'string' ? e.libbpfLog : '';
  if (typeof e.op === 'string' && typeof e.errno === 'number') {
    return {
      op: e.op,
      errno: e.errno,
      code: errnoName(e.errno),
      description: typeof e.description === 'string' ? e.description : errnoDescription(e.errno),
      log,
    };
  }
  return { op: '', errno: 0, code: typeof e.code === 'string' ? e.code : 'EUNKNOWN', description: e.message ?? String(err), log };
}

/**
 * `{ message: '<what>: <description>', code, log }` for a failed native call;
 * with no `what`, the error's own message.
 */
export function nativeCode(err: unknown, what?: string): { message: string; code: string; log: string } {
  const f = nativeFailure(err);
  const message = what !== undefined ? `${what}: ${f.description}` : ((err as Error | undefined)?.message ?? f.description);
  return { message, code: f.code, log: f.log };
}

/**
 * The error a plain native function throws, worded: message '<what>: <description>'
 * (what the callers of these functions have always seen), with `code`,
 * `errno`, `op`, `description` and `libbpfLog`.
 */
export function wordNativeError(err: unknown, what: string): Error {
  const f = nativeFailure(err);
  if (!f.op) return err as Error;
  return Object.assign(new Error(`${what}: ${f.description}`, { cause: err }), {
    code: f.code,
    errno: f.errno,
    op: f.op,
    description: f.description,
    ...(f.log ? { libbpfLog: f.log } : {}),
  });
}
