// MiniDebugInfo: the .gnu_debugdata section some distributions (Fedora,
// RHEL, CentOS) leave in stripped binaries: an xz-compressed ELF file
// holding a .symtab of the functions .dynsym lacks (local and static ones).
// Its symbols are merged with .dynsym's, so a stripped file still names its
// own functions. xz(1) decompresses it (Node has no xz); without xz, or on
// a malformed section, there is no MiniDebugInfo.
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ElfFile, SymbolTable } from './elf.js';
import { childProcess } from '../kernel/child-process.js';

const SHT_NOBITS = 8;

/** The symbols of `elf`'s .gnu_debugdata, when it has one (undefined otherwise). */
export function miniDebugInfoSymbols(elf: ElfFile): SymbolTable | undefined {
  const sec = elf.section('.gnu_debugdata');
  if (!sec || sec.type === SHT_NOBITS || sec.size === 0) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'ebpf-minidebug-'));
  try {
    const xz = Buffer.alloc(sec.size);
    const fd = openSync(elf.path, 'r');
    try {
      readSync(fd, xz, 0, sec.size, elf.imageOffset + sec.offset);
    } finally {
      closeSync(fd);
    }
    const image = childProcess().execFileSync('xz', ['-dc'], { input: xz, maxBuffer: 1 << 28, stdio: ['pipe', 'pipe', 'ignore'] });
    const file = join(dir, 'mini.debug');
    writeFileSync(file, image);
    const mini = ElfFile.open(file);
    return mini.hasSymtab ? mini.readSymbols(2 /* SHT_SYMTAB */) : undefined;
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One table of the symbols of both (for MiniDebugInfo: its .symtab and the file's .dynsym). */
export function mergeSymbolTables(a: SymbolTable, b: SymbolTable): SymbolTable {
  const count = a.length + b.length;
  const hi = new Uint32Array(count);
  const lo = new Uint32Array(count);
  const sizes = new Uint32Array(count);
  const nameOffsets = new Uint32Array(count);
  const names: Buffer[] = [];
  let at = 0;
  let i = 0;
  for (const t of [a, b]) {
    for (let j = 0; j < t.length; j++, i++) {
      const addr = t.base + BigInt(t.addrs[j]!);
      hi[i] = Number(addr >> 32n);
      lo[i] = Number(addr & 0xffffffffn);
      sizes[i] = t.sizes?.[j] ?? 0;
      const name = Buffer.from(t.name(j) + '\0');
      nameOffsets[i] = at;
      names.push(name);
      at += name.length;
    }
  }
  return SymbolTable.build({ count, hi, lo, sizes, nameOffsets, rank: new Uint8Array(count), strtab: Buffer.concat(names) });
}
