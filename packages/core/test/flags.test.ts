import { describe, it, expect } from 'vitest';
import { OPEN_ACCESS_MODES, OPEN_FLAGS, openFlagNames, openFlagValue } from '../src/kernel/flags.js';

describe('open flags', () => {
  it('has the kernel values for this architecture (x86-64 / generic here)', () => {
    if (process.arch !== 'x64') return;
    // the values Python's os module has on this machine, except O_LARGEFILE (glibc: 0 on 64-bit)
    expect(OPEN_FLAGS).toMatchObject({
      O_RDONLY: 0, O_WRONLY: 1, O_RDWR: 2, O_ACCMODE: 3, O_CREAT: 0o100, O_EXCL: 0o200, O_NOCTTY: 0o400,
      O_TRUNC: 0o1000, O_APPEND: 0o2000, O_NONBLOCK: 0o4000, O_NDELAY: 0o4000, O_DSYNC: 0o10000, O_ASYNC: 0o20000,
      O_DIRECT: 0o40000, O_LARGEFILE: 0o100000, O_DIRECTORY: 0o200000, O_NOFOLLOW: 0o400000, O_NOATIME: 0o1000000,
      O_CLOEXEC: 0o2000000, O_SYNC: 0o4010000, O_FSYNC: 0o4010000, O_RSYNC: 0o4010000, O_PATH: 0o10000000,
      O_TMPFILE: 0o20200000,
    });
    expect(Object.isFrozen(OPEN_FLAGS)).toBe(true);
    expect(OPEN_ACCESS_MODES).toEqual({ O_RDONLY: 0, O_WRONLY: 1, O_RDWR: 2 });
  });

  it('names flags: access mode first, multi-bit flags whole, unknown bits in octal', () => {
    expect(openFlagNames(0)).toEqual(['O_RDONLY']);
    expect(openFlagNames(0o1101)).toEqual(['O_WRONLY', 'O_CREAT', 'O_TRUNC']);
    expect(openFlagNames(0o2000002n)).toEqual(['O_RDWR', 'O_CLOEXEC']);
    expect(openFlagNames(3)).toEqual(['O_ACCMODE']);
    if (process.arch === 'x64') {
      expect(openFlagNames(0o4010001)).toEqual(['O_WRONLY', 'O_SYNC']);
      expect(openFlagNames(0o10001)).toEqual(['O_WRONLY', 'O_DSYNC']);
      expect(openFlagNames(0o20200002)).toEqual(['O_RDWR', 'O_TMPFILE']);
      expect(openFlagNames(0o200000)).toEqual(['O_RDONLY', 'O_DIRECTORY']);
      expect(openFlagNames((1n << 40n) | 0o100n)).toEqual(['O_RDONLY', 'O_CREAT', `0o${(1n << 40n).toString(8)}`]);
    }
  });

  it('looks names up exactly', () => {
    expect(openFlagValue('O_CREAT')).toBe(0o100);
    expect(openFlagValue('O_RDONLY')).toBe(0);
    for (const bad of ['o_creat', 'CREAT', 'O_BOGUS', 'toString', '__proto__', '']) expect(openFlagValue(bad)).toBeUndefined();
  });
});
