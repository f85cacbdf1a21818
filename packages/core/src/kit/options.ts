// A tool's options, declared once: each has its CLI flag, its help, and a
// value type that both parses CLI text and checks an API value, so
// `execsnoop({ uid: -1 })` and `execsnoop -u -1` fail with the same kind of
// precise one-line UsageError. The CLI (kit/command.ts) and the API
// (kit/program.ts) are both built from the same declarations.
import { Option } from 'commander';
import { UsageError } from '../errors.js';
import { PID_LIMIT, pidMax } from '../kernel/procfs.js';
import { resolveWholeDisk } from '../kernel/blockdev.js';
import { parseNonNegativeInt, parsePid, parsePositiveInt, parseRegex, parseUser } from '../cli/index.js';

/** How one option's value is read from the command line and checked from the API. */
export interface ValueType<T> {
  /** Parses CLI text; throws a UsageError naming `flag`. */
  parse(text: string, flag: string): T;
  /** Checks an API value; throws a UsageError naming `key`. */
  check(value: unknown, key: string): T;
}

export interface OptionDef<T = unknown> {
  /** commander's flag syntax: '-u, --uid <USER>'; no <ARG>: a switch. */
  flags: string;
  help: string;
  /** The value's type (switches have none: a boolean). */
  type?: ValueType<T>;
  /** CLI default (the API's default is the tool's business: undefined). */
  default?: T;
  /** How the default shows in --help. */
  defaultText?: string;
  /** Given several times, the values collect in an array. */
  repeatable?: boolean;
  /** Kept out of --help (aliases, BCC flags that are refused). */
  hidden?: boolean;
  /** Only on the command line (display flags: -T, -U, --max-args...). */
  cliOnly?: boolean;
  /** Only in the API, no flag (map sizes, test hooks): see apiOption(). */
  apiOnly?: boolean;
  /** Another long flag for the same option, kept out of --help ('--extended-fields' beside '--extended_fields'). */
  alias?: string;
  /** Options it cannot be given with, by commander attribute name (the long flag in camelCase: '-4' conflicts ['ipv6']). */
  conflicts?: string[];
}

/** Declares an option (`more`'s literal types are kept: `repeatable: true` makes the API's value an array). */
export function option<T = boolean, const M extends Partial<OptionDef<T>> = {}>(
  flags: string,
  help: string,
  type?: ValueType<T>,
  more: M = {} as M,
): OptionDef<T> & M {
  return { flags, help, type, ...more };
}

/** -T: the time above each period's output (BCC's interval tools). */
export const timestampFlag = option('-T, --timestamp', 'include timestamp on output', undefined, { cliOnly: true });

/** -m: histograms in milliseconds instead of microseconds (biolatency, runqlat). */
export const millisecondsOption = option('-m, --milliseconds', 'millisecond histogram');

/** Declares an option of the API alone: checked and typed as the others, no flag. */
export function apiOption<T = boolean>(help: string, type?: ValueType<T>): OptionDef<T> & { apiOnly: true } {
  return { flags: '', help, type, apiOnly: true };
}

export type OptionDefs = Record<string, OptionDef<any>>;

/** The API options object a set of declarations describes (display-only flags excluded). */
export type OptionsOf<D extends OptionDefs> = {
  [K in keyof D as D[K]['cliOnly'] extends true ? never : K]?: D[K] extends OptionDef<infer T>
    ? D[K]['repeatable'] extends true
      ? T[]
      : T
    : never;
};

/** Every value the command line produced, display flags included. */
export type FlagsOf<D extends OptionDefs> = {
  [K in keyof D as D[K]['apiOnly'] extends true ? never : K]?: D[K] extends OptionDef<infer T> ? (D[K]['repeatable'] extends true ? T[] : T) : never;
};

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

/** An integer from `min` to `max`. */
export function int(min: number, max: number): ValueType<number> {
  const positive = min === 1;
  const parse = positive ? parsePositiveInt : parseNonNegativeInt;
  return {
    parse: (text, flag) => {
      const n = parse(flag, max)(text);
      if (n < min) throw new UsageError(`invalid ${flag} value '${text}': expected ${min}..${max}`);
      return n;
    },
    check: (v, key) => {
      if (!isInt(v) || v < min || v > max) throw new UsageError(`${key} must be an integer from ${min} to ${max}, got ${String(v)}`);
      return v;
    },
  };
}

/** A user or thread-group id as a 32-bit id (0 works). */
export const id32 = int(0, 0xffffffff);

/** A process id: on the command line it must name a live process. */
export const pid: ValueType<number> = {
  parse: (text, flag) => parsePid(flag)(text),
  check: int(1, PID_LIMIT).check,
};

/**
 * A process or thread id that need not be alive: the target of a signal, a
 * filter that waits for a process to come. It is below pid_max (every PID
 * is), so a number no task can ever have is one UsageError line. With
 * `groups`, kill()'s other values too: 0 (my process group), -1 (every
 * process) and -PGID.
 */
export function anyPid(opts: { groups?: boolean } = {}): ValueType<number> {
  const check = (v: unknown, what: string): number => {
    const max = (pidMax() ?? PID_LIMIT) - 1;
    const min = opts.groups ? -max : 1;
    if (isInt(v) && Math.abs(v) > max) throw new UsageError(`${what}: not below pid_max (${max + 1}), so no ${opts.groups ? 'process or group' : 'task'} can have it`);
    if (!isInt(v) || v < min) throw new UsageError(`${what}: expected ${opts.groups ? `an integer from -${max} to ${max} (negative: a process group)` : `1..${max}`}`);
    return v;
  };
  return {
    parse: (text, flag) => {
      const t = text.trim();
      if (!/^-?\d+$/.test(t)) throw new UsageError(`invalid ${flag} value '${text}': expected an integer PID${opts.groups ? ' (negative: a process group)' : ''}`);
      return check(Number(t), `invalid ${flag} value '${text}'`);
    },
    check: (v, key) => check(v, `${key} must be a PID, got ${String(v)}`),
  };
}

/** A UID, or on the command line a user name (as BCC's getpwnam). */
export const user: ValueType<number> = {
  parse: (text, flag) => parseUser(flag)(text),
  check: id32.check,
};

/** A regular expression. */
export const regex: ValueType<RegExp> = {
  parse: (text, flag) => parseRegex(flag)(text),
  check: (v, key) => {
    if (!(v instanceof RegExp)) throw new UsageError(`${key} must be a RegExp`);
    return v;
  },
};

/** Text, optionally bounded in bytes (a comm holds 15). */
export function text(maxBytes = Infinity, what = 'bytes'): ValueType<string> {
  const check = (v: unknown, key: string): string => {
    if (typeof v !== 'string') throw new UsageError(`${key} must be a string`);
    const n = Buffer.byteLength(v);
    if (n > maxBytes) throw new UsageError(`${key} '${v}' is ${n} bytes; ${what} hold at most ${maxBytes}, so it could never match`);
    return v;
  };
  return { parse: (t, flag) => check(t, flag), check };
}

/** A custom type from one parse function used for both (its errors should be UsageErrors). */
export function custom<T>(parse: (text: string, flag: string) => T, check: (v: unknown, key: string) => T): ValueType<T> {
  return { parse, check };
}

/**
 * A whole disk by name ("vda", "/dev/nvme0n1"): the block tools' -d DISK. It
 * must exist and not be a partition (block requests carry the whole disk);
 * otherwise one UsageError line, on the command line and in the API alike.
 * The kernel's dev_t for the BPF side is resolveWholeDisk(name).
 */
export const wholeDisk: ValueType<string> = {
  parse: (t) => (resolveWholeDisk(t), t),
  check: (v, key) => {
    if (typeof v !== 'string') throw new UsageError(`${key} must be a string`);
    resolveWholeDisk(v);
    return v;
  },
};

/** A list of TCP/UDP ports: on the command line comma-separated (BCC: "80,81"), from the API an array. */
export const ports: ValueType<number[]> = {
  parse: (text, flag) => {
    const list = text.split(',').map((p) => p.trim());
    if (list.some((p) => !/^\d+$/.test(p) || Number(p) < 1 || Number(p) > 65535)) {
      throw new UsageError(`invalid ${flag} value '${text}': expected comma-separated ports from 1 to 65535`);
    }
    return list.map(Number);
  },
  check: (v, key) => {
    if (!Array.isArray(v) || v.length === 0) throw new UsageError(`${key} must be a non-empty array of ports`);
    for (const p of v) if (!Number.isInteger(p) || p < 1 || p > 65535) throw new UsageError(`${key}: ${p} is not a port (1 to 65535)`);
    return v as number[];
  },
};

const checkFamily = (v: unknown, key: string): 4 | 6 => {
  if (v !== 4 && v !== 6) throw new UsageError(`${key} must be 4 or 6, got ${v}`);
  return v;
};

/** An IP version, 4 or 6 (the CLIs set it from BCC's -4 and -6 flags). */
export const ipFamily: ValueType<4 | 6> = { parse: (t, flag) => checkFamily(Number(t), flag), check: checkFamily };

const boolean: ValueType<boolean> = {
  parse: () => true,
  check: (v, key) => {
    if (typeof v !== 'boolean') throw new UsageError(`${key} must be true or false`);
    return v;
  },
};

/** Checks API options against their declarations: unknown keys and bad values are UsageErrors. */
export function checkOptions<D extends OptionDefs>(defs: D, opts: object, extraKeys: readonly string[] = []): void {
  for (const [key, value] of Object.entries(opts)) {
    if (value === undefined) continue;
    const def = defs[key];
    if (!def || def.cliOnly) {
      if (extraKeys.includes(key)) continue;
      throw new UsageError(`unknown option '${key}'`);
    }
    const type: ValueType<unknown> = def.type ?? boolean;
    if (def.repeatable) {
      if (!Array.isArray(value)) throw new UsageError(`${key} must be an array`);
      value.forEach((v, i) => type.check(v, `${key}[${i}]`));
    } else type.check(value, key);
  }
}

/** The commander Option for a declaration. */
export function commanderOption(def: OptionDef): Option {
  const o = new Option(def.flags, def.help);
  if (def.type) {
    const flag = def.flags.split(/[ ,]+/)[0]!;
    const type = def.type;
    if (def.repeatable) o.argParser((v: string, prev: unknown[] | undefined) => [...(prev ?? []), type.parse(v, flag)]);
    else o.argParser((v: string) => type.parse(v, flag));
  }
  if (def.default !== undefined) o.default(def.default, def.defaultText ?? String(def.default));
  if (def.hidden) o.hideHelp();
  if (def.conflicts) o.conflicts(def.conflicts);
  return o;
}

/** The commander Options for a declaration: its own, and a hidden one for its alias that sets the same value. */
export function commanderOptions(def: OptionDef): Option[] {
  const main = commanderOption(def);
  if (!def.alias) return [main];
  const arg = /\s[<[].*$/.exec(def.flags)?.[0] ?? '';
  const alias = commanderOption({ ...def, flags: `${def.alias}${arg}`, default: undefined, hidden: true });
  alias.attributeName = () => main.attributeName();
  return [main, alias];
}
