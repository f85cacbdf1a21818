// Where free()'s probe goes: the x86-64 decoder and the prologue rules, on
// hand-written code and on the C library of this machine (checked against
// objdump).
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { findMappedFile } from '@ebpf/core';
import { openElfCached, uprobeOffset } from '@ebpf/core/symbolize';
import { objMatcher } from '../src/target.js';
import { Reg, decode, findProbePoint, kernelEmulates, rel32Targets } from '../src/attach-point.js';

const bytes = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex.replace(/\s+/g, ''), 'hex'));
const FREE_ARGS = { args: [Reg.rdi], retprobe: false };
const MALLOC_ARGS = { args: [Reg.rdi], retprobe: true };

describe('decode', () => {
  it('lengths and branch targets of common instructions', () => {
    const cases: Array<[string, number, number | undefined]> = [
      ['48 85 ff', 3, undefined], // test %rdi,%rdi
      ['0f 84 bf 00 00 00', 6, 0xc5], // je rel32
      ['74 07', 2, 9], // je rel8
      ['eb fe', 2, 0], // jmp .
      ['e8 00 00 00 00', 5, 5], // call next
      ['55', 1, undefined], // push %rbp
      ['41 54', 2, undefined], // push %r12
      ['48 8d 77 f0', 4, undefined], // lea -0x10(%rdi),%rsi
      ['48 83 ec 18', 4, undefined], // sub $0x18,%rsp
      ['48 8b 1d d6 9e 13 00', 7, undefined], // mov rip-relative
      ['64 8b 2b', 3, undefined], // mov %fs:(%rbx),%ebp
      ['80 3d 71 0e 14 00 00', 7, undefined], // cmpb $0, rip-relative
      ['48 c7 c2 00 00 00 fc', 7, undefined], // mov $imm32,%rdx
      ['48 b8 01 02 03 04 05 06 07 08', 10, undefined], // movabs
      ['f3 0f 1e fa', 4, undefined], // endbr64
      ['66 0f 1f 44 00 00', 6, undefined], // nopw
      ['f7 c1 ff 0f 00 00', 6, undefined], // test $imm32,%ecx
      ['66 f7 c1 ff 0f', 5, undefined], // test $imm16,%cx
      ['c5 f9 6f 07', 4, undefined], // vmovdqa (%rdi),%xmm0
      ['c4 e3 79 0f c1 08', 6, undefined], // vpalignr $8 (3-byte VEX, imm8)
      ['62 f1 fe 48 6f 07', 6, undefined], // vmovdqu64 (%rdi),%zmm0 (EVEX)
      ['0f 05', 2, undefined], // syscall
      ['c3', 1, undefined], // ret
    ];
    for (const [hex, length, target] of cases) {
      const i = decode(bytes(hex), 0);
      expect([hex, i?.length, i?.target]).toEqual([hex, length, target]);
    }
    expect(decode(bytes('06'), 0)).toBeUndefined(); // push %es: invalid in 64-bit mode
    expect(decode(bytes('0f 84 00'), 0)).toBeUndefined(); // cut short
  });

  it("what the kernel emulates (arch/x86/kernel/uprobes.c), and what it single-steps", () => {
    const yes = ['74 07', '0f 84 00 00 00 00', 'eb 00', 'e9 00 00 00 00', 'e8 00 00 00 00', '55', '41 57', '90'];
    const no = ['48 85 ff', '49 54' /* push with REX.WB */, '66 e8 00 00 00 00' /* call with 0x66 */, '80 3d 00 00 00 00 00', 'f3 0f 1e fa', 'c3', '48 89 e5'];
    for (const h of yes) expect([h, kernelEmulates(decode(bytes(h), 0)!)]).toEqual([h, true]);
    for (const h of no) expect([h, kernelEmulates(decode(bytes(h), 0)!)]).toEqual([h, false]);
  });
});

describe('findProbePoint', () => {
  it("glibc's free(): past `test %rdi,%rdi` to the emulated `je`", () => {
    const free = bytes('48 85 ff 0f 84 05 00 00 00 55 53 48 89 fb c3 c3');
    expect(findProbePoint(free, FREE_ARGS)).toMatchObject({ delta: 3 });
  });

  it('CET builds: endbr64 is skipped too', () => {
    const free = bytes('f3 0f 1e fa 48 85 ff 74 02 55 c3 c3');
    expect(findProbePoint(free, FREE_ARGS)).toMatchObject({ delta: 7 });
  });

  it('an emulated first instruction: the entry', () => {
    expect(findProbePoint(bytes('41 54 55 53 48 89 fb c3'), MALLOC_ARGS)).toMatchObject({ delta: 0 });
  });

  it('the entry when the prologue writes an argument register, moves the stack (for a return probe), stores, or calls', () => {
    expect(findProbePoint(bytes('48 8d 7f f0 74 02 c3 c3'), FREE_ARGS).delta).toBe(0); // lea -0x10(%rdi),%rdi
    expect(findProbePoint(bytes('48 83 ec 18 74 02 c3 c3'), MALLOC_ARGS).delta).toBe(0); // sub $0x18,%rsp
    expect(findProbePoint(bytes('48 83 ec 18 74 02 c3 c3'), FREE_ARGS).delta).toBe(4); // fine without a return probe
    expect(findProbePoint(bytes('48 89 3c 24 74 02 c3 c3'), FREE_ARGS).delta).toBe(0); // mov %rdi,(%rsp): a store
    expect(findProbePoint(bytes('b8 0b 00 00 00 0f 05 73 01 c3'), FREE_ARGS).delta).toBe(0); // munmap: syscall first
    expect(findProbePoint(bytes('48 85 ff ff 25 00 00 00 00'), FREE_ARGS).delta).toBe(0); // no emulated instruction
  });

  it('the entry when a branch lands inside the skipped prologue', () => {
    // test; je +5; ...; jmp back to the je (offset 3): the probe could fire twice.
    const loop = bytes('48 85 ff 74 05 90 90 90 eb f8 c3');
    expect(findProbePoint(loop, FREE_ARGS)).toMatchObject({ delta: 0, why: expect.stringContaining('branch') });
    // ... or code elsewhere does (a cold part of the function).
    const fine = bytes('48 85 ff 74 01 c3 c3');
    expect(findProbePoint(fine, FREE_ARGS, () => true).delta).toBe(0);
    expect(findProbePoint(fine, FREE_ARGS, () => false).delta).toBe(3);
  });

  it('rel32Targets finds a jump or call into a range, anywhere in the text', () => {
    const text = new Uint8Array(64);
    text.set(bytes('e9 0b 00 00 00'), 10); // jmp 10+5+11 = 26
    expect(rel32Targets(text, 1000, 1026, 1026)).toBe(true);
    expect(rel32Targets(text, 1000, 1027, 1030)).toBe(false);
    expect(rel32Targets(text, 1000, 1026, 1026, [1010, 1015])).toBe(false); // skipped
  });
});

describe("this machine's C library", () => {
  const libc = findMappedFile(process.pid, objMatcher('c'))!;

  it('decodes every instruction of the allocator functions where objdump finds one', () => {
    const file = readFileSync(libc.path);
    const elf = openElfCached(libc.path)!;
    for (const fn of ['malloc', 'free', 'calloc', 'realloc', 'memalign', 'posix_memalign', 'valloc', 'pvalloc', 'mmap', 'munmap']) {
      const sym = elf.findSymbol(fn)!;
      const at = uprobeOffset(libc.path, fn)!;
      const dump = execFileSync('objdump', ['-d', '--no-show-raw-insn', `--start-address=${sym.address}`, `--stop-address=${sym.address + BigInt(at.size)}`, libc.path], { encoding: 'utf8' });
      const want = [...dump.matchAll(/^\s+([0-9a-f]+):\t/gm)].map((m) => Number(BigInt(`0x${m[1]}`) - sym.address));
      const code = file.subarray(at.start, at.start + at.size);
      const got: number[] = [];
      for (let pos = 0; pos < code.length; ) {
        got.push(pos);
        const i = decode(code, pos);
        expect(i, `${fn}+${pos}`).toBeDefined();
        pos += i!.length;
      }
      expect([fn, got]).toEqual([fn, want]);
    }
  });

  it("free(): a probe point past the entry where %rdi still holds the pointer (Debian 12: 3 bytes in)", () => {
    const file = readFileSync(libc.path);
    const at = uprobeOffset(libc.path, 'free')!;
    const p = findProbePoint(file.subarray(at.start, at.start + at.size), FREE_ARGS);
    expect(p.delta).toBeGreaterThan(0);
    expect(kernelEmulates(decode(file, at.start + p.delta)!)).toBe(true);
  });
});
