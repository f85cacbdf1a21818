// Flag names the tools share: open(2) flags, by name and back
// (exported from '@ebpf/core').
//
// Values are the kernel's (include/uapi/asm-generic/fcntl.h), as BPF programs
// see them in syscall arguments. They differ between architectures: arm and
// arm64 swap four of them; the table follows process.arch. Where glibc and
// the kernel disagree the kernel wins: glibc (and Python's os module) define
// O_LARGEFILE as 0 on 64-bit systems, the kernel's bit is 0o100000.

type FlagTable = Record<string, number>;

const GENERIC: FlagTable = {
  O_RDONLY: 0o0,
  O_WRONLY: 0o1,
  O_RDWR: 0o2,
  O_ACCMODE: 0o3,
  O_CREAT: 0o100,
  O_EXCL: 0o200,
  O_NOCTTY: 0o400,
  O_TRUNC: 0o1000,
  O_APPEND: 0o2000,
  O_NONBLOCK: 0o4000,
  O_NDELAY: 0o4000,
  O_DSYNC: 0o10000,
  O_ASYNC: 0o20000, // FASYNC
  O_DIRECT: 0o40000,
  O_LARGEFILE: 0o100000,
  O_DIRECTORY: 0o200000,
  O_NOFOLLOW: 0o400000,
  O_NOATIME: 0o1000000,
  O_CLOEXEC: 0o2000000,
  O_SYNC: 0o4010000, // __O_SYNC | O_DSYNC
  O_FSYNC: 0o4010000,
  O_RSYNC: 0o4010000,
  O_PATH: 0o10000000,
  O_TMPFILE: 0o20200000, // __O_TMPFILE | O_DIRECTORY
};

// arch/arm{,64}/include/uapi/asm/fcntl.h
const ARM: FlagTable = {
  ...GENERIC,
  O_DIRECTORY: 0o40000,
  O_NOFOLLOW: 0o100000,
  O_DIRECT: 0o200000,
  O_LARGEFILE: 0o400000,
  O_TMPFILE: 0o20040000,
};

/** open(2) flag values by name, for this machine's architecture. */
export const OPEN_FLAGS: Readonly<FlagTable> = Object.freeze(
  process.arch === 'arm64' || process.arch === 'arm' ? { ...ARM } : { ...GENERIC },
);

/** The access mode names: values of (flags & O_ACCMODE), compared by value, not bits. */
export const OPEN_ACCESS_MODES: Readonly<Record<string, number>> = Object.freeze({
  O_RDONLY: 0,
  O_WRONLY: 1,
  O_RDWR: 2,
});

// Names for openFlagNames(), one per bit pattern: aliases (O_NDELAY, O_FSYNC,
// O_RSYNC) and the access modes left out; multi-bit flags first, so O_SYNC
// is named before its O_DSYNC bit.
const NAMING_ORDER = [
  'O_TMPFILE', 'O_SYNC', 'O_CREAT', 'O_EXCL', 'O_NOCTTY', 'O_TRUNC', 'O_APPEND', 'O_NONBLOCK', 'O_DSYNC',
  'O_ASYNC', 'O_DIRECT', 'O_LARGEFILE', 'O_DIRECTORY', 'O_NOFOLLOW', 'O_NOATIME', 'O_CLOEXEC', 'O_PATH',
];

/**
 * Open flags as names: the access mode first (O_RDONLY, O_WRONLY, O_RDWR, or
 * O_ACCMODE for the invalid 3), then each flag set; bits without a name as
 * one octal number. `0o1101` gives ['O_WRONLY', 'O_CREAT', 'O_TRUNC'].
 */
export function openFlagNames(flags: number | bigint): string[] {
  let rest = typeof flags === 'bigint' ? flags : BigInt(flags);
  const mode = Number(rest & 3n);
  const names = [['O_RDONLY', 'O_WRONLY', 'O_RDWR', 'O_ACCMODE'][mode]!];
  rest &= ~3n;
  for (const name of NAMING_ORDER) {
    const v = BigInt(OPEN_FLAGS[name]!);
    if ((rest & v) === v) {
      names.push(name);
      rest &= ~v;
    }
  }
  if (rest !== 0n) names.push(`0o${rest.toString(8)}`);
  return names;
}

/** The value of one open flag name (O_ prefix required, case-sensitive), or undefined. */
export function openFlagValue(name: string): number | undefined {
  return Object.prototype.hasOwnProperty.call(OPEN_FLAGS, name) ? OPEN_FLAGS[name] : undefined;
}
