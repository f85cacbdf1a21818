// Block request codes: the TypeScript table against the BPF header that
// makes the codes (bpf/include/ebpf/block.h, read here with the compiler's
// preprocessor and the build's own constant finder), and their names.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BIO_FL, BIO_OP, decodeRequestFlags, requestOpLetter } from '../src/kernel/blockflags.js';
// @ts-expect-error: a plain .mjs module of the build, without types
import { findConstants } from '../../../bpf/gen-consts.mjs';

const include = fileURLToPath(new URL('../../../bpf/include', import.meta.url));
const header = `${include}/ebpf/block.h`;

describe('block request codes', () => {
  it('BIO_OP and BIO_FL are exactly the codes block.h defines', () => {
    const pp = execFileSync(
      'clang',
      ['-E', '-dD', '-target', 'bpf', '-D__TARGET_ARCH_x86', '-I', include, '-idirafter', '/usr/include/x86_64-linux-gnu', header],
      { maxBuffer: 1 << 30 },
    ).toString();
    const found = new Map<string, number>(
      (findConstants(pp, header) as Array<{ name: string; value: bigint }>).map((c) => [c.name, Number(c.value)]),
    );
    const ts = new Map<string, number>([
      ...Object.entries(BIO_OP).map(([k, v]) => [`BIO_OP_${k}`, v] as [string, number]),
      ...Object.entries(BIO_FL).map(([k, v]) => [`BIO_FL_${k}`, v] as [string, number]),
    ]);
    const bio = new Map([...found].filter(([k]) => k.startsWith('BIO_')));
    expect(bio.size).toBe(29);
    expect(ts).toEqual(bio);
  });

  it('names: BCC order and names, the flags BCC lacks, unknown operations by number', () => {
    expect(decodeRequestFlags(BIO_OP.WRITE | BIO_FL.SYNC | BIO_FL.IDLE)).toEqual({
      code: BIO_OP.WRITE | BIO_FL.SYNC | BIO_FL.IDLE,
      op: 'Write',
      flags: ['Idle', 'Sync'],
      text: 'Idle-Sync-Write',
    });
    expect(decodeRequestFlags(BIO_OP.FLUSH | BIO_FL.PREFLUSH).text).toBe('PreFlush-Flush');
    expect(decodeRequestFlags(BIO_OP.READ | BIO_FL.RAHEAD).text).toBe('ReadAhead-Read');
    expect(decodeRequestFlags(BIO_OP.ZONE_APPEND).op).toBe('ZoneAppend');
    expect(decodeRequestFlags(BIO_OP.UNKNOWN | (38 << 8)).text).toBe('Unknown(38)');
    expect(decodeRequestFlags(200).op).toBe('Unknown(200)');
  });

  it('one letter per operation, as the kernel rwbs', () => {
    expect(requestOpLetter(BIO_OP.READ | BIO_FL.SYNC)).toBe('R');
    expect(requestOpLetter(BIO_OP.WRITE | BIO_FL.FUA)).toBe('W');
    expect(requestOpLetter(BIO_OP.FLUSH | BIO_FL.PREFLUSH)).toBe('F');
    expect(requestOpLetter(BIO_OP.DISCARD)).toBe('D');
    expect(requestOpLetter(BIO_OP.SECURE_ERASE)).toBe('D');
    expect(requestOpLetter(BIO_OP.ZONE_RESET)).toBe('N');
    expect(requestOpLetter(BIO_OP.UNKNOWN | (38 << 8))).toBe('N');
  });
});
