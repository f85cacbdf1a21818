// Where to put a uprobe on a function so the kernel does not have to
// single-step it (memleak's allocator probes, timemachine's).
//
// A uprobe replaces the first byte of an instruction with int3. When the
// breakpoint hits, the kernel runs the BPF program and must then execute the
// instruction it overwrote. A few instructions it *emulates* (changes the
// saved registers as the instruction would, in the kernel): conditional and
// unconditional relative jumps, relative calls, nops, and `push reg`. Every
// other instruction is *single-stepped*: copied to a page in the process,
// executed there with the trap flag set, and trapped again. That second trap
// is what makes a probe on glibc's free() cost ~12 µs here instead of ~1 µs:
// free() begins with `test %rdi,%rdi`, which is not emulated.
//
// The instruction right after it, `je <return>` (free(NULL) returns at once),
// is emulated, every call of free() executes it, and %rdi still holds the
// pointer there. So the probe goes 3 bytes in. This module finds such a place
// from the code of the library the target really maps, at run time:
//
//   1. Decode instructions from the function's entry while each one is known
//      to be harmless: it writes no memory, calls nothing, does not branch,
//      and writes neither the argument registers the BPF program reads nor,
//      for a function that also has a return probe, the stack pointer (the
//      kernel finds the return address at [%rsp] when the probe hits).
//   2. The first instruction of that straight line that the kernel emulates
//      is the candidate. Everything before it runs on every call, so it is
//      reached exactly when the function is called.
//   3. No branch may land between the entry and the candidate (else the probe
//      could fire twice per call, or with other register values): every
//      instruction of the function is decoded (a linear sweep with a full
//      x86-64 length decoder) and its branch target checked, and the rest of
//      the library's code is scanned for rel32 jumps and calls into that range
//      (a cold part of the function elsewhere). Anything unexpected falls
//      back to the function's entry: always correct, just slower.
//
// x86-64 only: on other architectures the entry is used.

import { readFileSync } from 'node:fs';
import { ElfFile } from './elf.js';

/** x86-64 general registers by number (ModRM/REX encoding). */
export const Reg = { rax: 0, rcx: 1, rdx: 2, rbx: 3, rsp: 4, rbp: 5, rsi: 6, rdi: 7 } as const;

/** One decoded instruction: enough to know its length and its effects. */
export interface Insn {
  offset: number;
  length: number;
  /** 0: one-byte opcode map; 1: 0F; 2: 0F 38; 3: 0F 3A; 4+: VEX/EVEX maps (10+map). */
  map: number;
  opcode: number;
  /** REX byte (0 when none). */
  rex: number;
  /** Legacy prefixes, in order. */
  prefixes: number[];
  modrm: number | undefined;
  /** Target offset of a relative jump or call (same coordinates as `offset`). */
  target: number | undefined;
}

// ---------------------------------------------------------------------------
// A length decoder for 64-bit mode (Intel SDM vol. 2, appendix A).

const LEGACY = new Set([0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3]);

// One-byte map: which opcodes take a ModRM byte, and immediates:
// 1 = imm8, 4 = imm32 (imm16 with 0x66), 2 = imm16; invalid opcodes are -1.
const MODRM1 = new Uint8Array(256);
const IMM1 = new Int8Array(256);
for (let b = 0; b < 0x40; b += 8) {
  for (let i = 0; i < 4; i++) MODRM1[b + i] = 1; // op r/m,r ; op r,r/m
  IMM1[b + 4] = 1; // op al, imm8
  IMM1[b + 5] = 4; // op eax, imm32
}
for (const b of [0x06, 0x07, 0x0e, 0x16, 0x17, 0x1e, 0x1f, 0x27, 0x2f, 0x37, 0x3f, 0x60, 0x61, 0x82, 0x9a, 0xce, 0xd4, 0xd5, 0xd6, 0xea]) IMM1[b] = -1;
MODRM1[0x63] = 1;
IMM1[0x68] = 4;
MODRM1[0x69] = 1;
IMM1[0x69] = 4;
IMM1[0x6a] = 1;
MODRM1[0x6b] = 1;
IMM1[0x6b] = 1;
for (let b = 0x70; b <= 0x7f; b++) IMM1[b] = 1; // jcc rel8
for (let b = 0x80; b <= 0x8f; b++) MODRM1[b] = 1;
IMM1[0x80] = 1;
IMM1[0x81] = 4;
IMM1[0x83] = 1;
IMM1[0xa8] = 1;
IMM1[0xa9] = 4;
for (let b = 0xb0; b <= 0xb7; b++) IMM1[b] = 1;
for (let b = 0xb8; b <= 0xbf; b++) IMM1[b] = 4; // imm64 with REX.W (below)
MODRM1[0xc0] = MODRM1[0xc1] = 1;
IMM1[0xc0] = IMM1[0xc1] = 1;
IMM1[0xc2] = IMM1[0xca] = 2;
MODRM1[0xc6] = MODRM1[0xc7] = 1;
IMM1[0xc6] = 1;
IMM1[0xc7] = 4;
IMM1[0xcd] = 1;
for (let b = 0xd0; b <= 0xd3; b++) MODRM1[b] = 1;
for (let b = 0xd8; b <= 0xdf; b++) MODRM1[b] = 1;
for (let b = 0xe0; b <= 0xe7; b++) IMM1[b] = 1; // loop*, jrcxz rel8; in/out imm8
IMM1[0xe8] = IMM1[0xe9] = 4; // call/jmp rel32
IMM1[0xeb] = 1;
MODRM1[0xf6] = MODRM1[0xf7] = MODRM1[0xfe] = MODRM1[0xff] = 1;

// Two-byte map (0F xx): ModRM and imm8.
const MODRM2 = new Uint8Array(256).fill(1);
const IMM2 = new Int8Array(256);
for (const b of [0x05, 0x06, 0x07, 0x08, 0x09, 0x0b, 0x0e, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x37, 0x77, 0xa0, 0xa1, 0xa2, 0xa8, 0xa9, 0xaa]) MODRM2[b] = 0;
for (let b = 0x80; b <= 0x8f; b++) {
  MODRM2[b] = 0; // jcc rel32
  IMM2[b] = 4;
}
for (let b = 0xc8; b <= 0xcf; b++) MODRM2[b] = 0; // bswap
for (const b of [0x0f, 0x70, 0x71, 0x72, 0x73, 0xa4, 0xac, 0xba, 0xc2, 0xc4, 0xc5, 0xc6]) IMM2[b] = 1;
for (const b of [0x04, 0x0a, 0x0c, 0x24, 0x25, 0x26, 0x27, 0x36, 0x39, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f]) IMM2[b] = -1;

const VEX_IMM_MAP1 = new Set([0x70, 0x71, 0x72, 0x73, 0xc2, 0xc4, 0xc5, 0xc6]);

/** Decodes the instruction at `pos`; undefined when it is not valid or runs past the end. */
export function decode(code: Uint8Array, pos: number): Insn | undefined {
  const start = pos;
  const prefixes: number[] = [];
  while (pos < code.length && LEGACY.has(code[pos]!) && prefixes.length < 14) prefixes.push(code[pos++]!);
  let rex = 0;
  if (pos < code.length && (code[pos]! & 0xf0) === 0x40) rex = code[pos++]!;
  if (pos >= code.length) return undefined;
  const opsize16 = prefixes.includes(0x66) && !(rex & 8);
  let map = 0;
  let opcode = code[pos++]!;
  let hasModrm = false;
  let imm = 0;
  let rel = false;

  if (opcode === 0xc4 || opcode === 0xc5 || opcode === 0x62) {
    // VEX (C5: 1 byte, C4: 2 bytes) or EVEX (62: 3 bytes), then opcode and ModRM.
    if (rex || prefixes.some((p) => p === 0x66 || p === 0xf2 || p === 0xf3 || p === 0xf0)) return undefined;
    const n = opcode === 0xc5 ? 1 : opcode === 0xc4 ? 2 : 3;
    if (pos + n >= code.length) return undefined;
    const vmap = opcode === 0xc5 ? 1 : code[pos]! & (opcode === 0x62 ? 0x07 : 0x1f);
    if (vmap < 1 || vmap > 3) return undefined;
    pos += n;
    opcode = code[pos++]!;
    map = 10 + vmap;
    hasModrm = !(vmap === 1 && opcode === 0x77); // vzeroupper/vzeroall
    imm = vmap === 3 || (vmap === 1 && VEX_IMM_MAP1.has(opcode)) ? 1 : 0;
  } else if (opcode === 0x0f) {
    if (pos >= code.length) return undefined;
    opcode = code[pos++]!;
    if (opcode === 0x38 || opcode === 0x3a) {
      if (pos >= code.length) return undefined;
      map = opcode === 0x38 ? 2 : 3;
      opcode = code[pos++]!;
      hasModrm = true;
      imm = map === 3 ? 1 : 0;
    } else {
      map = 1;
      if (IMM2[opcode] === -1) return undefined;
      hasModrm = MODRM2[opcode] === 1;
      imm = IMM2[opcode]!;
      rel = opcode >= 0x80 && opcode <= 0x8f;
    }
  } else {
    if (IMM1[opcode] === -1) return undefined;
    hasModrm = MODRM1[opcode] === 1;
    imm = IMM1[opcode]!;
    rel = (opcode >= 0x70 && opcode <= 0x7f) || (opcode >= 0xe0 && opcode <= 0xe3) || opcode === 0xe8 || opcode === 0xe9 || opcode === 0xeb;
    if (imm === 4 && !rel && opsize16) imm = 2;
    if (opcode >= 0xb8 && opcode <= 0xbf && rex & 8) imm = 8; // movabs
    if (opcode >= 0xa0 && opcode <= 0xa3) imm = prefixes.includes(0x67) ? 4 : 8; // mov moffs
    if (opcode === 0xc8) imm = 3; // enter imm16, imm8
  }

  let modrm: number | undefined;
  if (hasModrm) {
    if (pos >= code.length) return undefined;
    modrm = code[pos++]!;
    const mod = modrm >> 6;
    const rm = modrm & 7;
    if (mod !== 3) {
      if (rm === 4) {
        if (pos >= code.length) return undefined;
        const sib = code[pos++]!;
        if (mod === 0 && (sib & 7) === 5) pos += 4;
      }
      if (mod === 0 && rm === 5) pos += 4; // RIP-relative
      else if (mod === 1) pos += 1;
      else if (mod === 2) pos += 4;
    }
    // Group 3 (F6/F7 /0, /1: test) takes an immediate; the other forms do not.
    if (map === 0 && (opcode === 0xf6 || opcode === 0xf7)) {
      const r = (modrm >> 3) & 7;
      imm = r <= 1 ? (opcode === 0xf6 ? 1 : opsize16 ? 2 : 4) : 0;
    }
    if (map === 0 && opcode === 0xc7 && modrm === 0xf8) rel = true; // xbegin rel32
  }
  pos += imm;
  if (pos > code.length) return undefined;
  const length = pos - start;
  let target: number | undefined;
  if (rel) {
    const v = new DataView(code.buffer, code.byteOffset, code.byteLength);
    const disp = imm === 1 ? v.getInt8(pos - 1) : imm === 2 ? v.getInt16(pos - 2, true) : v.getInt32(pos - 4, true);
    target = pos + disp;
  }
  return { offset: start, length, map, opcode, rex, prefixes, modrm, target };
}

// ---------------------------------------------------------------------------
// The prologue analysis.

/** What the kernel emulates instead of single-stepping (arch/x86/kernel/uprobes.c). */
export function kernelEmulates(i: Insn): boolean {
  if (i.prefixes.includes(0x66) && i.opcode !== 0x90) return false; // "reject any prefix" (0x66) on branches
  if (i.map === 0) {
    if (i.opcode >= 0x70 && i.opcode <= 0x7f) return i.rex === 0; // jcc rel8
    if (i.opcode === 0xeb || i.opcode === 0xe9 || i.opcode === 0xe8) return i.rex === 0; // jmp, call
    if (i.opcode === 0x90) return i.rex === 0 && i.prefixes.every((p) => p === 0x66); // nop
    // push %reg: one byte, or two with exactly REX.B (0x41) for %r8-%r15.
    if (i.opcode >= 0x50 && i.opcode <= 0x57) return i.prefixes.length === 0 && (i.rex === 0 || i.rex === 0x41);
  }
  if (i.map === 1 && i.opcode >= 0x80 && i.opcode <= 0x8f) return i.rex === 0 && i.prefixes.length === 0; // jcc rel32
  return false;
}

interface Effects {
  /** Registers the instruction may write. */
  writes: number[];
}

/**
 * The effects of an instruction known to be harmless (no memory write, no
 * control transfer), or undefined for anything else.
 */
function harmless(i: Insn): Effects | undefined {
  const rexR = (i.rex >> 2) & 1;
  const rexB = i.rex & 1;
  const modrm = i.modrm;
  const mod = modrm === undefined ? -1 : modrm >> 6;
  const regField = modrm === undefined ? -1 : ((modrm >> 3) & 7) | (rexR << 3);
  const rmReg = modrm === undefined ? -1 : (modrm & 7) | (rexB << 3);
  if (i.prefixes.some((p) => p === 0xf0)) return undefined; // lock: writes memory
  if (i.map === 1) {
    if (i.opcode === 0x1e && modrm === 0xfa && i.prefixes.includes(0xf3)) return { writes: [] }; // endbr64
    if (i.opcode === 0x1f) return { writes: [] }; // nopl
    if ((i.opcode === 0xb6 || i.opcode === 0xb7 || i.opcode === 0xbe || i.opcode === 0xbf) && modrm !== undefined) return { writes: [regField] }; // movzx/movsx
    return undefined;
  }
  if (i.map !== 0 || i.prefixes.some((p) => p !== 0x66 && p !== 0x2e && p !== 0x3e)) return undefined;
  const op = i.opcode;
  // test / cmp: flags only.
  if (op === 0x84 || op === 0x85 || (op >= 0x38 && op <= 0x3d) || op === 0xa8 || op === 0xa9) return { writes: [] };
  if ((op === 0x80 || op === 0x81 || op === 0x83) && regField % 8 === 7) return { writes: [] };
  if ((op === 0xf6 || op === 0xf7) && (regField & 7) <= 1) return { writes: [] };
  // op r, r/m (reads memory at most): add, or, and, sub, xor, mov, lea, movsxd.
  if ([0x03, 0x0b, 0x23, 0x2b, 0x33, 0x8b, 0x8d, 0x63].includes(op)) return { writes: [regField] };
  // op r/m, r and the immediate group: register forms only (a memory form is a store).
  if ([0x01, 0x09, 0x21, 0x29, 0x31, 0x89].includes(op) || op === 0x81 || op === 0x83 || op === 0xc7) {
    return mod === 3 ? { writes: [rmReg] } : undefined;
  }
  if (op >= 0xb8 && op <= 0xbf) return { writes: [(op & 7) | (rexB << 3)] }; // mov $imm, %reg
  return undefined;
}

export interface ProbePointOptions {
  /** Argument registers the BPF program reads at the probe (Reg numbers). */
  args: number[];
  /** The function also gets a return probe there: %rsp must be untouched. */
  retprobe: boolean;
}

export interface ProbePoint {
  /** Bytes from the function's entry. */
  delta: number;
  /** How it was chosen, for -v and the README. */
  why: string;
}

/**
 * The offset from the function's entry where a probe is emulated and still
 * sees every call with `args` intact; 0 when the entry is best or nothing
 * better is safe. `fn` holds the function's bytes (its ELF symbol size);
 * `outside` lets the caller check that no code elsewhere jumps into the
 * skipped prologue (offsets relative to the function's entry).
 */
export function findProbePoint(fn: Uint8Array, opts: ProbePointOptions, outside?: (from: number, to: number) => boolean): ProbePoint {
  let pos = 0;
  const written = new Set<number>();
  for (let n = 0; n < 16 && pos < fn.length; n++) {
    const i = decode(fn, pos);
    if (!i) return { delta: 0, why: 'undecodable prologue' };
    if (kernelEmulates(i)) {
      if (pos === 0) return { delta: 0, why: 'the entry instruction is emulated' };
      if (!sweepClear(fn, pos)) return { delta: 0, why: `a branch lands inside the first ${pos} bytes` };
      if (outside?.(1, pos)) return { delta: 0, why: `code elsewhere jumps into the first ${pos} bytes` };
      return { delta: pos, why: `${describe(fn, 0, pos)} precede an emulated instruction` };
    }
    const fx = harmless(i);
    if (!fx) return { delta: 0, why: 'the entry instruction is single-stepped and what follows it is not side-effect free' };
    for (const r of fx.writes) written.add(r);
    if (opts.args.some((r) => written.has(r))) return { delta: 0, why: 'the prologue overwrites an argument register' };
    if (opts.retprobe && written.has(Reg.rsp)) return { delta: 0, why: 'the prologue moves the stack pointer' };
    pos += i.length;
  }
  return { delta: 0, why: 'no emulated instruction in the prologue' };
}

function describe(fn: Uint8Array, from: number, to: number): string {
  return `${to - from} byte${to - from === 1 ? '' : 's'} (${Buffer.from(fn.subarray(from, to)).toString('hex').replace(/(..)(?!$)/g, '$1 ')})`;
}

/**
 * Decodes the whole function (linear sweep) and checks that no instruction
 * starts inside the skipped prologue other than those decoded from the entry
 * (the sweep agrees with the prologue's boundaries) and no relative branch
 * targets (0, delta]. False when decoding fails anywhere.
 */
function sweepClear(fn: Uint8Array, delta: number): boolean {
  let pos = 0;
  while (pos < fn.length) {
    const i = decode(fn, pos);
    if (!i) {
      // Padding after the last instruction (int3 / nop runs) decodes fine;
      // anything else we cannot vouch for.
      return false;
    }
    if (i.target !== undefined && i.target > 0 && i.target <= delta) return false;
    pos += i.length;
  }
  return true;
}

/**
 * True when some `e8`/`e9`/`0f 8x` rel32 instruction in `text` (at any byte
 * position: a conservative scan, no decoding) targets [lo, hi]. Offsets are
 * absolute in the same coordinates as `textStart`, e.g. file offsets.
 */
export function rel32Targets(text: Uint8Array, textStart: number, lo: number, hi: number, skip?: [number, number]): boolean {
  const v = new DataView(text.buffer, text.byteOffset, text.byteLength);
  for (let p = 0; p + 5 <= text.length; p++) {
    const abs = textStart + p;
    if (skip && abs >= skip[0] && abs < skip[1]) continue;
    const b = text[p]!;
    let end: number;
    if (b === 0xe8 || b === 0xe9) end = p + 5;
    else if (b === 0x0f && p + 6 <= text.length && (text[p + 1]! & 0xf0) === 0x80) end = p + 6;
    else continue;
    const target = textStart + end + v.getInt32(end - 4, true);
    if (target >= lo && target <= hi) return true;
  }
  return false;
}

/** Where one function's uprobe goes in a library (see placeProbes()). */
export interface PlacedProbe {
  name: string;
  /** File offset of the function's entry. */
  start: number;
  /** File offset for the probe: start + delta. */
  offset: number;
  delta: number;
  why: string;
}

/**
 * For each function of `path` (an ELF file), the file offset of its uprobe:
 * past a single-stepped prologue where findProbePoint() allows it, checked
 * against branches from anywhere in the file's code; the entry on other
 * architectures. Functions the file lacks (or ifuncs) are left out.
 * `functions[].args`: argument registers the probe reads; `retprobe`: it
 * also gets a return probe.
 */
export function placeProbes(path: string, functions: ReadonlyArray<{ name: string; args: number[]; retprobe: boolean }>): PlacedProbe[] {
  const elf = ElfFile.open(path); // not the inode-keyed cache: it may hold the path of a process gone since
  const file = readFileSync(path);
  const text = elf.loadSegments.find((seg) => (seg.flags & 1) !== 0);
  const textBytes = text ? file.subarray(text.offset, text.offset + text.filesz) : undefined;
  const out: PlacedProbe[] = [];
  for (const f of functions) {
    const sym = elf.findSymbol(f.name);
    const start = sym && !sym.ifunc ? elf.vaddrToFileOffset(sym.address) : undefined;
    if (start === undefined || !sym) continue;
    let p: ProbePoint = { delta: 0, why: 'not x86-64: the entry' };
    if (process.arch === 'x64' && sym.size > 0) {
      const code = file.subarray(start, start + sym.size);
      p = findProbePoint(code, { args: f.args, retprobe: f.retprobe }, (from, to) =>
        textBytes ? rel32Targets(textBytes, text!.offset, start + from, start + to, [start, start + sym.size]) : true,
      );
    }
    out.push({ name: f.name, start, offset: start + p.delta, delta: p.delta, why: p.why });
  }
  return out;
}
