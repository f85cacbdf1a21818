// Linux signal numbers and names (subpath `@ebpf/core/signals`). Pure
// functions, no dependencies.
//
// Numbers are the kernel's generic ones (include/uapi/asm-generic/signal.h),
// which x86, x86-64, arm, arm64, riscv, powerpc and s390 use; alpha, mips,
// parisc and sparc number some signals differently and are not covered.
//
// Names are what the kernel headers call a signal and what users type and
// read everywhere else (bash's and procps' `kill -l`, Python's `signal`):
//   * 1..31 by their kernel names, so 29 is SIGIO (SIGPOLL is its alias) and
//     10 and 12 are SIGUSR1 and SIGUSR2. (BCC's exitsnoop builds its table
//     from the names without digits, so it prints "unknown" for both and
//     POLL for 29: we do not.)
//   * Real-time signals relative to the C library's SIGRTMIN, 34: glibc keeps
//     32 and 33 for itself (thread cancellation, set*id across threads), so
//     every program sees SIGRTMIN = 34 and SIGRTMAX = 64. As bash prints them:
//     SIGRTMIN, SIGRTMIN+1 .. SIGRTMIN+15, SIGRTMAX-14 .. SIGRTMAX-1, SIGRTMAX.
//     32 and 33 have no name in user space (the kernel's own SIGRTMIN is 32);
//     they are SIGRTMIN-2 and SIGRTMIN-1 here, by the same arithmetic.

/** Highest signal number (the kernel's _NSIG): signals are 1..64. */
export const SIGNAL_MAX = 64;
/** The first real-time signal as the kernel numbers them (__SIGRTMIN). */
export const KERNEL_SIGRTMIN = 32;
/** The first real-time signal a program can use (glibc's and musl's SIGRTMIN). */
export const SIGRTMIN = 34;
/** The last real-time signal (SIGRTMAX). */
export const SIGRTMAX = 64;

const CLASSIC: readonly string[] = [
  '', // 0: not a signal (kill(pid, 0) only checks that pid exists)
  'SIGHUP',
  'SIGINT',
  'SIGQUIT',
  'SIGILL',
  'SIGTRAP',
  'SIGABRT',
  'SIGBUS',
  'SIGFPE',
  'SIGKILL',
  'SIGUSR1',
  'SIGSEGV',
  'SIGUSR2',
  'SIGPIPE',
  'SIGALRM',
  'SIGTERM',
  'SIGSTKFLT',
  'SIGCHLD',
  'SIGCONT',
  'SIGSTOP',
  'SIGTSTP',
  'SIGTTIN',
  'SIGTTOU',
  'SIGURG',
  'SIGXCPU',
  'SIGXFSZ',
  'SIGVTALRM',
  'SIGPROF',
  'SIGWINCH',
  'SIGIO',
  'SIGPWR',
  'SIGSYS',
];

/** Other names the kernel headers or the C library give some signals. */
const ALIASES: Readonly<Record<string, number>> = {
  SIGIOT: 6,
  SIGCLD: 17,
  SIGPOLL: 29,
  SIGUNUSED: 31, // removed from glibc 2.26, still in old programs
};

// glibc's strsignal() texts (C locale), what libbpf-tools' exitsnoop prints.
const DESCRIPTIONS: readonly string[] = [
  '',
  'Hangup',
  'Interrupt',
  'Quit',
  'Illegal instruction',
  'Trace/breakpoint trap',
  'Aborted',
  'Bus error',
  'Floating point exception',
  'Killed',
  'User defined signal 1',
  'Segmentation fault',
  'User defined signal 2',
  'Broken pipe',
  'Alarm clock',
  'Terminated',
  'Stack fault',
  'Child exited',
  'Continued',
  'Stopped (signal)',
  'Stopped',
  'Stopped (tty input)',
  'Stopped (tty output)',
  'Urgent I/O condition',
  'CPU time limit exceeded',
  'File size limit exceeded',
  'Virtual timer expired',
  'Profiling timer expired',
  'Window changed',
  'I/O possible',
  'Power failure',
  'Bad system call',
];

function rtName(sig: number): string {
  const mid = (SIGRTMIN + SIGRTMAX) >> 1; // 49: bash switches to SIGRTMAX-n after SIGRTMIN+15
  if (sig === SIGRTMIN) return 'SIGRTMIN';
  if (sig === SIGRTMAX) return 'SIGRTMAX';
  if (sig < SIGRTMIN) return `SIGRTMIN-${SIGRTMIN - sig}`;
  return sig <= mid ? `SIGRTMIN+${sig - SIGRTMIN}` : `SIGRTMAX-${SIGRTMAX - sig}`;
}

/** Names indexed by signal number (index 0 is undefined): `SIGNAL_NAMES[10]` is 'SIGUSR1'. */
export const SIGNAL_NAMES: readonly (string | undefined)[] = Object.freeze(
  Array.from({ length: SIGNAL_MAX + 1 }, (_, n) => (n === 0 ? undefined : n < KERNEL_SIGRTMIN ? CLASSIC[n] : rtName(n))),
);

const isSignal = (sig: number): boolean => Number.isInteger(sig) && sig >= 1 && sig <= SIGNAL_MAX;

/** 'SIGKILL' for 9, 'SIGRTMIN+2' for 36; undefined for 0 and anything not a signal. */
export function signalName(sig: number): string | undefined {
  return isSignal(sig) ? SIGNAL_NAMES[sig] : undefined;
}

/** The name without its "SIG" prefix ('KILL', 'RTMIN+2'), as BCC's exitsnoop prints it. */
export function signalShortName(sig: number): string | undefined {
  return signalName(sig)?.slice(3);
}

const BY_NAME = new Map<string, number>();
for (let n = 1; n <= SIGNAL_MAX; n++) BY_NAME.set(SIGNAL_NAMES[n]!, n);
for (const [name, n] of Object.entries(ALIASES)) BY_NAME.set(name, n);

/**
 * The number of a signal name: case-insensitive, with or without "SIG"
 * ('SIGUSR1', 'usr1', 'SIGPOLL', 'IOT'), and real-time names as
 * SIGRTMIN+n / SIGRTMAX-n for any n that stays within 32..64 ('RTMIN+20' is
 * 54, the same signal as 'RTMAX-10'). undefined for anything else.
 */
export function signalNumber(name: string): number | undefined {
  let s = name.trim().toUpperCase();
  if (!s.startsWith('SIG')) s = `SIG${s}`;
  const known = BY_NAME.get(s);
  if (known !== undefined) return known;
  const m = /^SIGRT(MIN|MAX)([+-])(\d{1,2})$/.exec(s);
  if (!m) return undefined;
  const base = m[1] === 'MIN' ? SIGRTMIN : SIGRTMAX;
  const n = m[2] === '+' ? base + Number(m[3]) : base - Number(m[3]);
  return n >= KERNEL_SIGRTMIN && n <= SIGRTMAX ? n : undefined;
}

/**
 * A signal given on a command line: a decimal number from 0 to 64 (0 is the
 * "null signal" of kill(pid, 0)), or a name as signalNumber() reads it.
 * undefined when it is neither.
 */
export function parseSignal(spec: string): number | undefined {
  const s = spec.trim();
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    return n <= SIGNAL_MAX ? n : undefined;
  }
  return signalNumber(s);
}

/**
 * What glibc's strsignal() says (C locale): 'Killed', 'User defined signal 1',
 * 'Real-time signal 2' for 36 (counted from SIGRTMIN), 'Unknown signal 32'
 * for glibc's own 32 and 33 and for anything not a signal.
 */
export function signalDescription(sig: number): string {
  if (Number.isInteger(sig) && sig >= 1 && sig < KERNEL_SIGRTMIN) return DESCRIPTIONS[sig]!;
  if (Number.isInteger(sig) && sig >= SIGRTMIN && sig <= SIGRTMAX) return `Real-time signal ${sig - SIGRTMIN}`;
  return `Unknown signal ${sig}`;
}
