// The pieces that pick what to trace: -O names, -c's command line and the
// program's entry point (where -c holds the command until the probes are in).
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { ElfFile } from '@ebpf/core/symbolize';
import { entryPoint, objMatcher, splitCommand, which } from '../src/target.js';

describe('-O', () => {
  it('a -l name, a basename or a path', () => {
    const c = objMatcher('c');
    expect(c('/usr/lib/x86_64-linux-gnu/libc.so.6')).toBe(true);
    expect(c('/lib/libc-2.31.so')).toBe(true);
    expect(c('/usr/lib/x86_64-linux-gnu/libcrypto.so.3')).toBe(false);
    expect(c('/usr/lib/libc.a')).toBe(false);
    expect(objMatcher('jemalloc')('/usr/lib/x86_64-linux-gnu/libjemalloc.so.2')).toBe(true);
    expect(objMatcher('libtcmalloc.so.4')('/usr/lib/libtcmalloc.so.4')).toBe(true);
    expect(objMatcher('/opt/a/libx.so')('/opt/a/libx.so')).toBe(true);
    expect(objMatcher('/opt/a/libx.so')('/opt/b/libx.so')).toBe(false);
  });
});

describe('-c', () => {
  it('splits the command on whitespace, as BCC (str.split())', () => {
    expect(splitCommand('  ./a.out  1\t2 \n3 ')).toEqual(['./a.out', '1', '2', '3']);
  });

  it('finds the program as execvp() would', () => {
    expect(which('sh')).toMatch(/^\/.*\/sh$/);
    expect(which('/bin/sh')).toBe('/bin/sh');
    expect(which('no-such-program-7421')).toBeUndefined();
    expect(which('/etc/passwd')).toBeUndefined(); // not executable
  });

  it("the entry point: ELF e_entry as a file offset; a script's interpreter's", () => {
    const sh = which('sh')!;
    const elf = ElfFile.open(sh);
    const e = entryPoint(sh)!;
    expect(e.file).toBe(sh);
    expect(elf.fileOffsetToVaddr(e.offset)).toBe(elf.entry);
    const readelf = execFileSync('readelf', ['-h', sh], { encoding: 'utf8' });
    expect(BigInt(readelf.match(/Entry point address:\s+(0x[0-9a-f]+)/)![1]!)).toBe(elf.entry);
    // A #! script starts in its interpreter.
    const script = which('ldd');
    if (script) expect(entryPoint(script)?.file).toMatch(/\/(ba)?sh$/);
    expect(entryPoint('/no/such/file')).toBeUndefined();
  });
});
