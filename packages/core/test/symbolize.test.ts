import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import {
  ElfFile,
  KernelSymbolizer,
  SymbolTable,
  UserSymbolizer,
  demangle,
  demangleMap,
  formatFrame,
  formatStacks,
  openElfCached,
  parseMaps,
  uprobeOffset,
} from '../src/symbolize/index.js';
import { findMappedFile } from '../src/index.js';
import { tempDir, type TempDir } from '../../../test/support/tmp.js';
import { compileC } from '../../../test/support/workload.js';

// A target with uniquely named functions; it prints addresses to resolve and
// waits on stdin so its mappings stay alive while we read them.
const SOURCE = `
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

__attribute__((noinline)) int symbolize_target_fn_7781(int x) {
  int y = x * 3;
  for (int i = 0; i < x; i++) y += i;
  return y + 1;
}

static __attribute__((noinline)) int symbolize_local_fn_7781(int x) {
  return symbolize_target_fn_7781(x) + 2;
}

int main(void) {
  void *heap = malloc(64);
  printf("%p %p %p %p %p\\n",
         (void *)((char *)&symbolize_target_fn_7781 + 4),
         (void *)((char *)&symbolize_local_fn_7781 + 2),
         (void *)((char *)dlsym(RTLD_DEFAULT, "printf") + 3),
         dlsym(RTLD_DEFAULT, "getpid"),
         heap);
  fflush(stdout);
  char buf[16];
  while (read(0, buf, sizeof buf) > 0) {}
  return symbolize_local_fn_7781(1) == 0;
}
`;

interface Target {
  proc: ChildProcess;
  pid: number;
  fn: bigint;
  local: bigint;
  printf: bigint;
  getpid: bigint;
  heap: bigint;
}

let tmp: TempDir;
const bins: Record<'pie' | 'nopie' | 'deleted', string> = { pie: '', nopie: '', deleted: '' };
const running: ChildProcess[] = [];

function start(bin: string): Promise<Target> {
  return new Promise((resolve, reject) => {
    const proc = spawn(bin, [], { stdio: ['pipe', 'pipe', 'inherit'] });
    running.push(proc);
    let out = '';
    proc.on('error', reject);
    proc.on('exit', (code) => reject(new Error(`${bin} exited early (${code})`)));
    proc.stdout!.setEncoding('utf8');
    proc.stdout!.on('data', (d: string) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      const [fn, local, printf, getpid, heap] = out.slice(0, nl).trim().split(' ').map((s) => BigInt(s));
      resolve({ proc, pid: proc.pid!, fn: fn!, local: local!, printf: printf!, getpid: getpid!, heap: heap! });
    });
  });
}

beforeAll(() => {
  tmp = tempDir('symbolize-test-');
  const cflags = ['-O0', '-fno-omit-frame-pointer'];
  bins.pie = compileC({ name: 'symtarget_pie', code: SOURCE }, { flags: cflags });
  bins.nopie = compileC({ name: 'symtarget_nopie', code: SOURCE }, { flags: [...cflags, '-no-pie'] });
  bins.deleted = join(tmp.dir, 'symtarget_gone'); // a copy: a test deletes it
  copyFileSync(bins.pie, bins.deleted);
});

afterAll(() => {
  for (const p of running) {
    p.stdin?.end();
    if (p.exitCode === null) p.kill('SIGKILL');
  }
  tmp?.cleanup();
});

describe('ElfFile', () => {
  it('reads a stripped binary (/bin/true) through .dynsym', () => {
    const elf = ElfFile.open('/bin/true');
    expect(elf.hasSymtab).toBe(false);
    expect(elf.hasDynsym).toBe(true);
    expect(elf.buildId).toMatch(/^[0-9a-f]{40}$/);
    expect(elf.debugLink?.name).toMatch(/\.debug$/);
    expect(elf.loadSegments.some((p) => (p.flags & 1) !== 0)).toBe(true);
    const syms = elf.symbols();
    if (elf.findDebugFile() === undefined) {
      expect(elf.symbolSource).toBe('dynsym');
      expect(syms.length).toBeGreaterThan(0);
      // Every kept .dynsym symbol is defined and resolves to itself.
      for (let i = 0; i < syms.length; i++) {
        const hit = syms.find(syms.address(i));
        expect(hit?.name).toBe(syms.name(i));
        expect(hit?.offset).toBe(0);
      }
    } else {
      expect(elf.symbolSource).toBe('debug');
    }
  });

  it('reads .symtab of the compiled test binaries (PIE and non-PIE)', () => {
    for (const [bin, type] of [
      [bins.pie, 3],
      [bins.nopie, 2],
    ] as const) {
      const elf = ElfFile.open(bin);
      expect(elf.type).toBe(type);
      expect(elf.hasSymtab).toBe(true);
      expect(elf.symbolSource).toBe('symtab');
      const syms = elf.symbols();
      // The global and the static (.symtab only) function are both there.
      const names = new Map<string, number>();
      for (let i = 0; i < syms.length; i++) names.set(syms.name(i), i);
      expect(names.has('symbolize_target_fn_7781')).toBe(true);
      expect(names.has('symbolize_local_fn_7781')).toBe(true);
      expect(names.has('main')).toBe(true);
      const i = names.get('symbolize_target_fn_7781')!;
      const size = syms.size(i)!;
      expect(size).toBeGreaterThan(8);
      expect(syms.find(syms.address(i) + 5n)).toMatchObject({ name: 'symbolize_target_fn_7781', offset: 5 });
      expect(syms.find(syms.address(i) + BigInt(size - 1))?.name).toBe('symbolize_target_fn_7781');
      // The text segment maps the function's file offset back to its address.
      const text = elf.loadSegments.find((p) => (p.flags & 1) !== 0)!;
      const fileOff = Number(syms.address(i) - text.vaddr) + text.offset;
      expect(elf.fileOffsetToVaddr(fileOff)).toBe(syms.address(i));
      // Parsed files are shared by identity.
      expect(openElfCached(bin)).toBe(openElfCached(bin));
    }
  });
});

describe('symbols by name and uprobe offsets', () => {
  it('findSymbol() finds every alias; vaddrToFileOffset() inverts fileOffsetToVaddr()', () => {
    for (const bin of [bins.pie, bins.nopie]) {
      const elf = ElfFile.open(bin);
      const nm = execFileSync('nm', [bin], { encoding: 'utf8' });
      for (const name of ['symbolize_target_fn_7781', 'symbolize_local_fn_7781', 'main']) {
        const want = BigInt(`0x${nm.match(new RegExp(`^([0-9a-f]+) [tT] ${name}$`, 'm'))![1]}`);
        const sym = elf.findSymbol(name)!;
        expect(sym).toMatchObject({ name, address: want, ifunc: false, source: 'symtab' });
        expect(sym.size).toBeGreaterThan(0);
        const off = elf.vaddrToFileOffset(sym.address)!;
        expect(elf.fileOffsetToVaddr(off)).toBe(sym.address);
        // The bytes there are the function's code, as objdump shows it.
        const dump = execFileSync('objdump', ['-d', `--start-address=${sym.address}`, `--stop-address=${sym.address + 4n}`, bin], { encoding: 'utf8' });
        const hex = [...dump.matchAll(/^\s+[0-9a-f]+:\t((?:[0-9a-f]{2} )+)/gm)].map((m) => m[1]!.trim()).join(' ').split(' ').slice(0, 4).join('');
        expect(readFileSync(bin).subarray(off, off + 4).toString('hex')).toBe(hex);
        expect(uprobeOffset(bin, name, 3)).toEqual({ offset: off + 3, start: off, size: sym.size });
      }
      expect(elf.findSymbol('no_such_function_7781')).toBeUndefined();
      expect(elf.findSymbol('printf')).toBeUndefined(); // undefined (imported) symbols are not found
      expect(elf.vaddrToFileOffset(0xffffffff00000000n)).toBeUndefined();
    }
  });

  it("finds libc's free under all its names, in .dynsym (a stripped library)", () => {
    const libc = findMappedFile(process.pid, /\/libc[.-][^/]*$/)!;
    const nmD = execFileSync('nm', ['-D', libc.path], { encoding: 'utf8' });
    const free = BigInt(`0x${nmD.match(/^([0-9a-f]+) [TW] free@@/m)![1]}`);
    const elf = ElfFile.open(libc.path);
    for (const name of ['free', '__libc_free', 'cfree']) {
      expect(elf.findSymbol(name)?.address).toBe(free);
    }
    expect(elf.findSymbol('free')?.source).toBe(elf.hasSymtab ? 'symtab' : 'dynsym');
    expect(uprobeOffset(libc.path, 'free')?.start).toBe(elf.vaddrToFileOffset(free));
    expect(uprobeOffset(libc.path, 'no_such_function_7781')).toBeUndefined();
  });
});

describe('SymbolTable', () => {
  it('finds nested symbols, folds aliases and respects sizes', () => {
    const strtab = Buffer.from('\0outer\0inner\0after\0__alias\0alias\0', 'latin1');
    const off = (s: string) => strtab.indexOf(`\0${s}\0`) + 1;
    //           outer 0x1000+0x100, inner 0x1010+0x10, after 0x2000+0x10, aliases at 0x3000
    const t = SymbolTable.build({
      count: 5,
      hi: Uint32Array.from([0, 0, 0, 0, 0]),
      lo: Uint32Array.from([0x2000, 0x1010, 0x1000, 0x3000, 0x3000]),
      sizes: Uint32Array.from([0x10, 0x10, 0x100, 8, 8]),
      nameOffsets: Uint32Array.from([off('after'), off('inner'), off('outer'), off('__alias'), off('alias')]),
      rank: Uint8Array.from([2, 2, 2, 2, 2]),
      strtab,
    });
    expect(t.length).toBe(4);
    expect(t.find(0x1000n)).toMatchObject({ name: 'outer', offset: 0 });
    expect(t.find(0x1015n)).toMatchObject({ name: 'inner', offset: 5 });
    expect(t.find(0x1080n)).toMatchObject({ name: 'outer', offset: 0x80 });
    expect(t.find(0x1100n)).toBeUndefined();
    expect(t.find(0x2008n)).toMatchObject({ name: 'after', offset: 8 });
    expect(t.find(0x3004n)).toMatchObject({ name: 'alias', offset: 4 });
    expect(t.find(0xfffn)).toBeUndefined();
  });
});

describe('parseMaps', () => {
  it('parses paths with spaces, deleted files and anonymous mappings', () => {
    const maps = parseMaps(
      [
        '7f0000001000-7f0000002000 r-xp 00001000 fe:00 1234                       /opt/my app/lib x.so',
        '7f0000000000-7f0000001000 r--p 00000000 fe:00 1234                       /opt/my app/lib x.so',
        '7f0000003000-7f0000004000 r-xp 00002000 fe:00 99                         /tmp/prog (deleted)',
        '7f0000005000-7f0000006000 rw-p 00000000 00:00 0 ',
        '7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]',
      ].join('\n') + '\n',
    );
    expect(maps.map((m) => m.start)).toEqual([0x7f0000000000, 0x7f0000001000, 0x7f0000003000, 0x7f0000005000, 0x7ffd00000000]);
    expect(maps[1]).toMatchObject({ end: 0x7f0000002000, perms: 'r-xp', offset: 0x1000, dev: 'fe:00', inode: 1234, path: '/opt/my app/lib x.so', deleted: false });
    expect(maps[2]).toMatchObject({ path: '/tmp/prog', deleted: true });
    expect(maps[3]!.path).toBe('');
    expect(maps[4]!.path).toBe('[stack]');
  });
});

describe('UserSymbolizer', () => {
  for (const kind of ['pie', 'nopie'] as const) {
    it(`resolves the target's and libc's functions (${kind})`, async () => {
      const t = await start(bins[kind]);
      const s = new UserSymbolizer(t.pid);
      const module = kind === 'pie' ? 'symtarget_pie' : 'symtarget_nopie';

      const fn = s.resolve(t.fn);
      expect(fn).toEqual({ name: 'symbolize_target_fn_7781', offset: 4, module });
      expect(s.resolve(t.fn)).toBe(fn); // cached per address
      expect(s.resolve(t.local)).toEqual({ name: 'symbolize_local_fn_7781', offset: 2, module });
      expect(formatFrame(t.fn, fn)).toBe(`symbolize_target_fn_7781+0x4 [${module}]`);

      expect(s.resolve(t.printf)).toEqual({ name: 'printf', offset: 3, module: 'libc.so.6' });
      const gp = s.resolve(t.getpid)!;
      expect(['getpid', '__getpid']).toContain(gp.name);
      expect(gp).toMatchObject({ offset: 0, module: 'libc.so.6' });

      // Heap memory and unmapped addresses: "[unknown]", like BCC.
      expect(s.resolve(t.heap)).toBeUndefined();
      expect(s.resolve(1n)).toBeUndefined();
      expect(s.resolve(0xffffffff81000000n)).toBeUndefined();
      expect(formatFrame(t.heap, s.resolve(t.heap))).toBe('[unknown]');

      // The same stacks through formatStacks, with memleak's address prefix.
      const [stack] = formatStacks(s, [[t.fn, t.printf, t.heap]], { showAddress: true });
      expect(stack).toEqual([
        `0x${t.fn.toString(16).padStart(16, '0')}\tsymbolize_target_fn_7781+0x4 [${module}]`,
        `0x${t.printf.toString(16).padStart(16, '0')}\tprintf+0x3 [libc.so.6]`,
        `0x${t.heap.toString(16).padStart(16, '0')}\t[unknown]`,
      ]);
      t.proc.stdin!.end();
    });
  }

  it('resolves [vdso] symbols from the process memory', async () => {
    const t = await start(bins.pie);
    const s = new UserSymbolizer(t.pid);
    const m = s.mappings().find((x) => x.path === '[vdso]');
    expect(m).toBeDefined();
    if (!m) return;
    const elf = ElfFile.open(`/proc/${t.pid}/mem`, { offset: m.start });
    const syms = elf.symbols();
    let idx = -1;
    for (let i = 0; i < syms.length && idx < 0; i++) if (syms.name(i).endsWith('clock_gettime') && (syms.size(i) ?? 0) > 1) idx = i;
    expect(idx).toBeGreaterThanOrEqual(0);
    const text = elf.loadSegments[0]!;
    const addr = BigInt(m.start) + syms.address(idx) - text.vaddr + BigInt(text.offset - m.offset) + 1n;
    const r = s.resolve(addr);
    expect(r).toMatchObject({ offset: 1, module: '[vdso]' });
    expect(r!.name).toMatch(/clock_gettime$/);
    t.proc.stdin!.end();
  });

  it('reports deleted binaries as "[unknown] [name (deleted)]", like BCC', async () => {
    const t = await start(bins.deleted);
    unlinkSync(bins.deleted);
    const s = new UserSymbolizer(t.pid);
    const r = s.resolve(t.fn);
    expect(r?.name).toBeUndefined();
    expect(r?.module).toBe('symtarget_gone (deleted)');
    expect(formatFrame(t.fn, r)).toBe('[unknown] [symtarget_gone (deleted)]');
    // libc is still resolved normally
    expect(s.resolve(t.printf)).toEqual({ name: 'printf', offset: 3, module: 'libc.so.6' });
    t.proc.stdin!.end();
  });
});

describe('KernelSymbolizer', () => {
  const line = readFileSync('/proc/kallsyms', 'latin1')
    .split('\n')
    .find((l) => / [Tt] vfs_read$/.test(l));
  const addr = line ? BigInt('0x' + line.slice(0, line.indexOf(' '))) : 0n;

  it.skipIf(addr === 0n)('resolves vfs_read+0x10 as memleak prints kernel frames', () => {
    const k = new KernelSymbolizer();
    const r = k.resolve(addr + 0x10n);
    expect(r).toEqual({ name: 'vfs_read', offset: 0x10, module: 'kernel' });
    expect(k.resolve(addr + 0x10n)).toBe(r);
    expect(k.resolve(addr)).toEqual({ name: 'vfs_read', offset: 0, module: 'kernel' });
    expect(formatFrame(addr + 0x10n, r, { showModule: false })).toBe('vfs_read+0x10');
    expect(formatFrame(addr + 0x10n, r)).toBe('vfs_read+0x10 [kernel]');
    expect(formatFrame(addr + 0x10n, r, { showAddress: true })).toBe(`0x${(addr + 0x10n).toString(16)}\tvfs_read+0x10 [kernel]`);
    expect(formatFrame(addr, r, { showOffset: false, showModule: false })).toBe('vfs_read');
    expect(k.resolve(0x10n)).toBeUndefined();
    expect(formatFrame(0x10n, k.resolve(0x10n))).toBe('[unknown]');
    expect(k.size).toBeGreaterThan(1000);
  });

  it.skipIf(addr === 0n)('keeps module symbols with their [module]', () => {
    const mod = readFileSync('/proc/kallsyms', 'latin1')
      .split('\n')
      .find((l) => /^[0-9a-f]+ [tT] \S+\t\[[^\]]+\]$/.test(l) && !l.startsWith('0000000000000000'));
    if (!mod) return;
    const [a, , name, m] = mod.split(/[ \t]/);
    const r = new KernelSymbolizer().resolve(BigInt('0x' + a));
    expect(r?.module).toBe(m!.slice(1, -1));
    expect(r?.offset).toBe(0);
    expect(r?.name).toBeTypeOf('string');
    expect(name).toBeTruthy();
  });
});

describe('demangle', () => {
  const hasCxxFilt = (() => {
    try {
      execFileSync('c++filt', ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();

  it('demangles C++ names with one c++filt run and leaves others alone', () => {
    const names = ['_ZN3foo3barEv', 'main', '_ZNSt6vectorIiSaIiEE9push_backERKi', 'main', '_ZN3foo3barEv'];
    const out = demangle(names);
    if (!hasCxxFilt) {
      expect(out).toEqual(names);
      return;
    }
    expect(out).toEqual(['foo::bar()', 'main', 'std::vector<int, std::allocator<int> >::push_back(int const&)', 'main', 'foo::bar()']);
    expect(demangle([])).toEqual([]);
    const map = demangleMap(['_ZN3foo3barEv', 'printf']);
    expect([...map]).toEqual([['_ZN3foo3barEv', 'foo::bar()']]);
    expect(formatFrame(0x1000n, { name: '_ZN3foo3barEv', offset: 0x20, module: 'libfoo.so' }, { demangled: map })).toBe('foo::bar()+0x20 [libfoo.so]');
  });
});
