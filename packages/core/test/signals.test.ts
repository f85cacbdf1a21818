// The signal table against the machine's own authorities: bash's `kill -l`
// for names, glibc's strsignal() (through Python's ctypes) for descriptions,
// and the numbers Node itself knows (os.constants.signals).
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { constants } from 'node:os';
import {
  KERNEL_SIGRTMIN,
  SIGNAL_MAX,
  SIGNAL_NAMES,
  SIGRTMAX,
  SIGRTMIN,
  parseSignal,
  signalDescription,
  signalName,
  signalNumber,
  signalShortName,
} from '../src/kernel/signals.js';
import { hasCommand } from '../../../test/support/workload.js';

describe('signal names', () => {
  it('every classic signal by its kernel name, USR1/USR2 and SYS included, IO for 29', () => {
    expect(SIGNAL_NAMES.slice(1, 32)).toEqual([
      'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGILL', 'SIGTRAP', 'SIGABRT', 'SIGBUS', 'SIGFPE',
      'SIGKILL', 'SIGUSR1', 'SIGSEGV', 'SIGUSR2', 'SIGPIPE', 'SIGALRM', 'SIGTERM', 'SIGSTKFLT',
      'SIGCHLD', 'SIGCONT', 'SIGSTOP', 'SIGTSTP', 'SIGTTIN', 'SIGTTOU', 'SIGURG', 'SIGXCPU',
      'SIGXFSZ', 'SIGVTALRM', 'SIGPROF', 'SIGWINCH', 'SIGIO', 'SIGPWR', 'SIGSYS',
    ]);
    expect([signalName(10), signalName(12), signalName(29), signalName(31)]).toEqual(['SIGUSR1', 'SIGUSR2', 'SIGIO', 'SIGSYS']);
    expect([signalShortName(9), signalShortName(10), signalShortName(6)]).toEqual(['KILL', 'USR1', 'ABRT']);
  });

  it('real-time signals relative to SIGRTMIN = 34, as bash names them', () => {
    expect([KERNEL_SIGRTMIN, SIGRTMIN, SIGRTMAX, SIGNAL_MAX]).toEqual([32, 34, 64, 64]);
    expect(SIGNAL_NAMES.slice(32)).toEqual([
      'SIGRTMIN-2', 'SIGRTMIN-1', 'SIGRTMIN',
      ...Array.from({ length: 15 }, (_, i) => `SIGRTMIN+${i + 1}`),
      ...Array.from({ length: 14 }, (_, i) => `SIGRTMAX-${14 - i}`),
      'SIGRTMAX',
    ]);
    expect(SIGNAL_NAMES).toHaveLength(65);
    expect(signalShortName(40)).toBe('RTMIN+6');
  });

  it('0, negatives, 65 and fractions have no name', () => {
    for (const n of [0, -1, 65, 1000, 1.5, NaN]) {
      expect(signalName(n), String(n)).toBeUndefined();
      expect(signalShortName(n), String(n)).toBeUndefined();
    }
    expect(SIGNAL_NAMES[0]).toBeUndefined();
  });

  it.skipIf(!hasCommand('bash'))("matches bash's `kill -l` for every signal it names (1-31, 34-64)", () => {
    const nums = Array.from({ length: 64 }, (_, i) => i + 1).filter((n) => n !== 32 && n !== 33);
    const out = execFileSync('bash', ['-c', `for n in ${nums.join(' ')}; do kill -l $n; done`], { encoding: 'utf8' });
    expect(out.trim().split('\n').map((s) => `SIG${s}`)).toEqual(nums.map((n) => signalName(n)));
  });

  it('agrees with the numbers Node knows (os.constants.signals)', () => {
    for (const [name, n] of Object.entries(constants.signals)) {
      expect(signalNumber(name), name).toBe(n);
      // Node's table has aliases (SIGIOT, SIGPOLL); the number's own name maps back
      expect(signalNumber(signalName(n)!), name).toBe(n);
    }
  });
});

describe('names to numbers', () => {
  it('round-trips every signal', () => {
    for (let n = 1; n <= 64; n++) {
      expect(signalNumber(signalName(n)!)).toBe(n);
      expect(signalNumber(signalShortName(n)!)).toBe(n);
      expect(parseSignal(signalName(n)!)).toBe(n);
      expect(parseSignal(String(n))).toBe(n);
    }
  });

  it('case-insensitive, SIG optional, aliases, surrounding spaces', () => {
    expect(signalNumber('usr1')).toBe(10);
    expect(signalNumber('SigTerm')).toBe(15);
    expect(signalNumber(' KILL ')).toBe(9);
    expect(signalNumber('SIGPOLL')).toBe(29);
    expect(signalNumber('poll')).toBe(29);
    expect(signalNumber('IOT')).toBe(6);
    expect(signalNumber('SIGCLD')).toBe(17);
    expect(signalNumber('SIGUNUSED')).toBe(31);
  });

  it('SIGRTMIN+n and SIGRTMAX-n for any n within 32..64', () => {
    expect(signalNumber('RTMIN')).toBe(34);
    expect(signalNumber('SIGRTMIN+0')).toBe(34);
    expect(signalNumber('rtmin+20')).toBe(54);
    expect(signalNumber('RTMAX-10')).toBe(54);
    expect(signalNumber('RTMAX-0')).toBe(64);
    expect(signalNumber('RTMIN+30')).toBe(64);
    expect(signalNumber('RTMAX-32')).toBe(32);
    expect(signalNumber('RTMIN-2')).toBe(32);
    for (const bad of ['RTMIN+31', 'RTMAX+1', 'RTMAX-33', 'RTMIN-3', 'RTMIN+', 'RTMIN+100', 'RTMID']) {
      expect(signalNumber(bad), bad).toBeUndefined();
    }
  });

  it('rejects what is not a signal', () => {
    for (const bad of ['', 'SIG', 'FOO', 'SIGKILLX', '9', '-9', 'USR3']) expect(signalNumber(bad), bad).toBeUndefined();
    for (const bad of ['', '65', '-1', '1.5', '0x9', 'nope', '9 9']) expect(parseSignal(bad), bad).toBeUndefined();
    expect(parseSignal('0')).toBe(0);
    expect(parseSignal('064')).toBe(64);
  });
});

describe('descriptions', () => {
  it('the classic texts', () => {
    expect([signalDescription(9), signalDescription(10), signalDescription(11), signalDescription(15)]).toEqual([
      'Killed', 'User defined signal 1', 'Segmentation fault', 'Terminated',
    ]);
    expect([signalDescription(34), signalDescription(64), signalDescription(32), signalDescription(0)]).toEqual([
      'Real-time signal 0', 'Real-time signal 30', 'Unknown signal 32', 'Unknown signal 0',
    ]);
  });

  it.skipIf(!hasCommand('python3'))("match glibc's strsignal() for -1..65", () => {
    const nums = Array.from({ length: 67 }, (_, i) => i - 1);
    const script =
      'import ctypes,sys\nlibc=ctypes.CDLL("libc.so.6")\nlibc.strsignal.restype=ctypes.c_char_p\n' +
      'for n in sys.argv[1:]: print(libc.strsignal(int(n)).decode())';
    const out = execFileSync('python3', ['-c', script, ...nums.map(String)], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
    expect(out.trimEnd().split('\n')).toEqual(nums.map(signalDescription));
  });
});
