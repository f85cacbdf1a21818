// User-space address symbolization for one process, as BCC's ProcSyms does
// it: find the /proc/PID/maps mapping, turn the address into the ELF virtual
// address through the PT_LOAD segments, and look it up in the file's symbols.

import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { ET_EXEC, ElfFile, openElfCached } from './elf.js';
import type { ResolvedSymbol, Symbolizer } from './kernel.js';

export interface Mapping {
  start: number;
  end: number;
  perms: string;
  /** File offset of the mapping's start. */
  offset: number;
  dev: string;
  inode: number;
  /** The path column as shown ("" for anonymous mappings), without " (deleted)". */
  path: string;
  deleted: boolean;
}

const DELETED = ' (deleted)';

/** Parse /proc/PID/maps text. */
export function parseMaps(text: string): Mapping[] {
  const out: Mapping[] = [];
  let p = 0;
  const len = text.length;
  while (p < len) {
    let eol = text.indexOf('\n', p);
    if (eol < 0) eol = len;
    const line = text.slice(p, eol);
    p = eol + 1;
    // start-end perms offset dev inode [path]
    const dash = line.indexOf('-');
    const s1 = line.indexOf(' ', dash);
    const s2 = line.indexOf(' ', s1 + 1);
    const s3 = line.indexOf(' ', s2 + 1);
    const s4 = line.indexOf(' ', s3 + 1);
    if (dash < 0 || s1 < 0 || s2 < 0 || s3 < 0 || s4 < 0) continue;
    let s5 = line.indexOf(' ', s4 + 1);
    if (s5 < 0) s5 = line.length;
    let path = line.slice(s5).trimStart();
    let deleted = false;
    if (path.endsWith(DELETED)) {
      deleted = true;
      path = path.slice(0, -DELETED.length);
    }
    out.push({
      start: parseInt(line.slice(0, dash), 16),
      end: parseInt(line.slice(dash + 1, s1), 16),
      perms: line.slice(s1 + 1, s2),
      offset: parseInt(line.slice(s2 + 1, s3), 16),
      dev: line.slice(s3 + 1, s4),
      inode: Number(line.slice(s4 + 1, s5)),
      path,
      deleted,
    });
  }
  out.sort((a, b) => a.start - b.start);
  return out;
}

export interface UserSymbolizerOptions {
  /** Read files through /proc/PID/root when it exists (default true), for processes in containers. */
  useProcRoot?: boolean;
}

/** Addresses at or above this are not user space on x86-64 / arm64. */
const USER_LIMIT = 2n ** 53n;

/**
 * Symbolizer for one process. /proc/PID/maps is read on the first lookup and
 * re-read when an address falls outside every known mapping (a library was
 * mapped since); each distinct address is resolved once and cached. Parsed
 * ELF files are shared across symbolizers (keyed by file identity).
 *
 * resolve() follows BCC's output: `{ name, offset, module }` with the mapped
 * file's basename as module; `{ module }` alone (BCC: "[unknown] [module]")
 * when the address is in a file mapping but no symbol covers it or the file
 * was deleted (module "file (deleted)"); undefined for anonymous memory
 * (heap, stack, JIT code) and unmapped addresses (BCC: "[unknown]").
 */
export class UserSymbolizer implements Symbolizer {
  readonly pid: number;
  private readonly useProcRoot: boolean;
  private maps: Mapping[] | undefined;
  private readonly cache = new Map<bigint, ResolvedSymbol | null>();
  private readonly elfs = new Map<string, ElfFile | null>();

  constructor(pid: number, opts: UserSymbolizerOptions = {}) {
    this.pid = pid;
    this.useProcRoot = opts.useProcRoot ?? true;
  }

  /** The process's mappings (read now if not yet read). */
  mappings(): readonly Mapping[] {
    if (!this.maps) this.readMaps();
    return this.maps ?? [];
  }

  /** Forget the mappings and the per-address cache (e.g. after dlclose/exec). */
  refresh(): void {
    this.maps = undefined;
    this.cache.clear();
    this.elfs.clear();
  }

  resolve(addr: bigint): ResolvedSymbol | undefined {
    const hit = this.cache.get(addr);
    if (hit !== undefined) return hit ?? undefined;
    const res = this.resolveUncached(addr) ?? null;
    this.cache.set(addr, res);
    return res ?? undefined;
  }

  /** The mapping containing addr; re-reads maps once on a miss. */
  mappingFor(addr: bigint): Mapping | undefined {
    if (addr <= 0n || addr >= USER_LIMIT) return undefined;
    const a = Number(addr);
    if (!this.maps) this.readMaps();
    let m = findMapping(this.maps, a);
    if (!m && this.readMaps()) m = findMapping(this.maps, a);
    return m;
  }

  private readMaps(): boolean {
    try {
      const maps = parseMaps(readFileSync(`/proc/${this.pid}/maps`, 'latin1'));
      // An exited process (a zombie) reads as no mappings: a miss then (an
      // address of code it no longer maps) must not throw away what was
      // known, or every later address of a process gone is unknown.
      if (maps.length === 0 && this.maps?.length) return false;
      this.maps = maps;
      return true;
    } catch {
      this.maps ??= [];
      return false;
    }
  }

  private resolveUncached(addr: bigint): ResolvedSymbol | undefined {
    const m = this.mappingFor(addr);
    if (!m) return undefined;
    const isVdso = m.path === '[vdso]';
    if (!isVdso && !m.path.startsWith('/')) return undefined; // anonymous, [heap], [stack], ...
    const module = isVdso ? m.path : basename(m.path) + (m.deleted ? DELETED : '');
    const fileOffset = Number(addr) - m.start + m.offset;
    if (m.deleted) return { offset: fileOffset, module };
    const elf = this.elfFor(m);
    if (!elf) return { offset: fileOffset, module };
    let vaddr = elf.fileOffsetToVaddr(fileOffset);
    if (vaddr === undefined) {
      if (elf.type !== ET_EXEC) return { offset: fileOffset, module };
      vaddr = addr;
    }
    const sym = elf.symbols().find(vaddr);
    if (!sym) return { offset: Number(vaddr), module };
    return { name: sym.name, offset: sym.offset, module };
  }

  private elfFor(m: Mapping): ElfFile | undefined {
    const key = m.path;
    const hit = this.elfs.get(key);
    if (hit !== undefined) return hit ?? undefined;
    let elf: ElfFile | undefined;
    if (m.path === '[vdso]') {
      elf = openVdso(this.pid, m.start);
    } else {
      const root = `/proc/${this.pid}/root`;
      const viaRoot = root + m.path;
      if (this.useProcRoot && existsSync(viaRoot)) elf = openElfCached(viaRoot, { root });
      else elf = openElfCached(m.path);
    }
    this.elfs.set(key, elf ?? null);
    return elf;
  }
}

function findMapping(maps: Mapping[] | undefined, a: number): Mapping | undefined {
  if (!maps) return undefined;
  let lo = 0;
  let hi = maps.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (maps[mid]!.start <= a) lo = mid + 1;
    else hi = mid;
  }
  const m = maps[lo - 1];
  return m && a < m.end ? m : undefined;
}

// The [vdso] image is the same for every 64-bit process of one boot: parse it
// (and its symbols) once, from the first process's memory.
let vdsoElf: ElfFile | undefined;

function openVdso(pid: number, start: number): ElfFile | undefined {
  if (vdsoElf) return vdsoElf;
  try {
    const elf = ElfFile.open(`/proc/${pid}/mem`, { offset: start });
    elf.symbols(); // read now, while the process is known to be alive
    vdsoElf = elf;
    return elf;
  } catch {
    return undefined;
  }
}
