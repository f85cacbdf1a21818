// A minimal ELF64 little-endian reader for symbolization: headers, section and
// program headers, the GNU build-id note, .gnu_debuglink, and the .symtab or
// .dynsym symbols as an address-sorted table. Files are read with positioned
// reads of just the parts needed (a big libjvm.so or libc is never read whole).

import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { mergeSymbolTables, miniDebugInfoSymbols } from './debugdata.js';

export const ET_REL = 1;
export const ET_EXEC = 2;
export const ET_DYN = 3;
export const ET_CORE = 4;

export const PT_LOAD = 1;
export const PT_NOTE = 4;
export const PF_X = 1;
export const PF_W = 2;
export const PF_R = 4;

export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_NOTE = 7;
export const SHT_NOBITS = 8;
export const SHT_DYNSYM = 11;

export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const STT_GNU_IFUNC = 10;
export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const STB_WEAK = 2;

const SHN_UNDEF = 0;
const SHN_XINDEX = 0xffff;
const PN_XNUM = 0xffff;
const NT_GNU_BUILD_ID = 3;
const TWO32 = 4294967296;
const PAGE = 4096;

export class ElfError extends Error {
  override name = 'ElfError';
}

export interface ElfSection {
  index: number;
  name: string;
  type: number;
  flags: number;
  addr: bigint;
  /** File offset (relative to the start of the ELF image). */
  offset: number;
  size: number;
  link: number;
  info: number;
  addralign: number;
  entsize: number;
}

export interface ElfSegment {
  type: number;
  /** PF_X | PF_W | PF_R */
  flags: number;
  offset: number;
  vaddr: bigint;
  filesz: number;
  memsz: number;
  align: number;
}

export interface DebugLink {
  name: string;
  crc: number;
}

export interface ElfOpenOptions {
  /**
   * Where the ELF image starts in the file (default 0). Lets /proc/PID/mem be
   * read as an ELF file at the [vdso] mapping's start.
   */
  offset?: number;
  /**
   * A root directory prefix the file was reached through (e.g. /proc/PID/root
   * for a process in a container); separate debug files are looked for under
   * it first, then on the host.
   */
  root?: string;
}

/** Where ElfFile.symbols() got its symbols from. */
export type SymbolSource = 'symtab' | 'debug' | 'dynsym' | 'none';

/** One symbol found by name (ElfFile.findSymbol()). */
export interface ElfSymbol {
  name: string;
  /** st_value: the virtual address (file-relative for shared objects). */
  address: bigint;
  size: number;
  /** STT_GNU_IFUNC: the address is a resolver, not the function. */
  ifunc: boolean;
  source: 'symtab' | 'dynsym';
}

// ---------------------------------------------------------------------------
// Small helpers

function u64n(buf: Buffer, off: number): number {
  return buf.readUInt32LE(off) + buf.readUInt32LE(off + 4) * TWO32;
}

/** Read exactly len bytes at pos (short reads retried; fewer at EOF). */
function readAt(fd: number, pos: number, len: number): Buffer {
  const buf = Buffer.allocUnsafe(len);
  let done = 0;
  while (done < len) {
    const n = readSync(fd, buf, done, len - done, pos + done);
    if (n <= 0) break;
    done += n;
  }
  return done === len ? buf : buf.subarray(0, done);
}

function cstring(buf: Buffer, off: number): string {
  if (off >= buf.length) return '';
  let end = buf.indexOf(0, off);
  if (end < 0) end = buf.length;
  return buf.toString('utf8', off, end);
}

function leadingUnderscores(buf: Buffer, off: number, end: number): number {
  let n = 0;
  while (off + n < end && buf[off + n] === 0x5f) n++;
  return n;
}

// ---------------------------------------------------------------------------
// The sorted symbol table, shared with the kernel symbolizer.

/** Input rows for SymbolTable.build(); arrays hold `count` entries. */
export interface SymbolRows {
  count: number;
  /** Address, high and low 32 bits. */
  hi: Uint32Array;
  lo: Uint32Array;
  /** Symbol sizes; undefined when unknown (kallsyms): nearest preceding symbol wins. */
  sizes?: Uint32Array;
  /** Offset of each NUL-terminated name in `strtab`. */
  nameOffsets: Uint32Array;
  /**
   * Preference among symbols at one address (higher wins after "has a
   * nonzero size"; ties go to names without "@version", then to fewer leading
   * underscores, then to the later row).
   */
  rank: Uint8Array;
  strtab: Buffer;
}

/**
 * Address-sorted symbols in typed arrays: addresses as offsets from `base` in
 * a Float64Array (exact below 2^53 of spread), sizes and name offsets in
 * Uint32Arrays, names decoded lazily from the string table. One symbol per
 * address (aliases are folded, preferring sized over zero-sized symbols,
 * global over weak over local, unversioned names and fewer leading
 * underscores, much like perf). Lookup is a binary search.
 */
export class SymbolTable {
  readonly base: bigint;
  readonly length: number;
  /** Sorted addresses relative to `base`. */
  readonly addrs: Float64Array;
  readonly sizes: Uint32Array | undefined;
  readonly nameOffsets: Uint32Array;
  /** Row index in the SymbolRows each entry came from. */
  readonly rows: Uint32Array;
  readonly strtab: Buffer;
  /** coverEnd[i] = max over j <= i of addrs[j] + sizes[j]. */
  private readonly coverEnd: Float64Array | undefined;

  private constructor(
    base: bigint,
    addrs: Float64Array,
    sizes: Uint32Array | undefined,
    nameOffsets: Uint32Array,
    rows: Uint32Array,
    strtab: Buffer,
  ) {
    this.base = base;
    this.addrs = addrs;
    this.sizes = sizes;
    this.nameOffsets = nameOffsets;
    this.rows = rows;
    this.strtab = strtab;
    this.length = addrs.length;
    if (sizes) {
      const cover = new Float64Array(addrs.length);
      let max = -1;
      for (let i = 0; i < addrs.length; i++) {
        const end = addrs[i]! + sizes[i]!;
        if (end > max) max = end;
        cover[i] = max;
      }
      this.coverEnd = cover;
    }
  }

  static empty(): SymbolTable {
    return new SymbolTable(0n, new Float64Array(0), new Uint32Array(0), new Uint32Array(0), new Uint32Array(0), Buffer.alloc(0));
  }

  static build(r: SymbolRows): SymbolTable {
    const n = r.count;
    if (n === 0) return new SymbolTable(0n, new Float64Array(0), r.sizes ? new Uint32Array(0) : undefined, new Uint32Array(0), new Uint32Array(0), r.strtab);
    // Base = the lowest address, so offsets from it are small and exact.
    let bhi = 0xffffffff;
    let blo = 0xffffffff;
    for (let i = 0; i < n; i++) {
      const h = r.hi[i]!;
      if (h < bhi || (h === bhi && r.lo[i]! < blo)) {
        bhi = h;
        blo = r.lo[i]!;
      }
    }
    const delta = new Float64Array(n);
    let sorted = true;
    for (let i = 0; i < n; i++) {
      const d = (r.hi[i]! - bhi) * TWO32 + (r.lo[i]! - blo);
      delta[i] = d;
      if (i > 0 && d < delta[i - 1]!) sorted = false;
    }
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    if (!sorted) sortByDelta(order, delta);

    // Fold symbols at one address into the preferred one.
    const keep = new Uint32Array(n);
    let m = 0;
    const strtab = r.strtab;
    const score = (row: number): number => {
      const off = r.nameOffsets[row]!;
      let end = strtab.indexOf(0, off);
      if (end < 0) end = strtab.length;
      const sized = r.sizes && r.sizes[row]! > 0 ? 1 : 0;
      const at = strtab.indexOf(0x40 /* @ */, off);
      const plain = at < 0 || at >= end ? 1 : 0; // "memcpy" over "memcpy@GLIBC_2.2.5"
      // Bigger is better; the later row wins a full tie (caller's order).
      return ((sized * 256 + r.rank[row]!) * 2 + plain) * 256 - Math.min(leadingUnderscores(strtab, off, end), 255);
    };
    for (let i = 0; i < n; ) {
      const d = delta[order[i]!]!;
      let j = i + 1;
      while (j < n && delta[order[j]!] === d) j++;
      let best = order[i]!;
      if (j - i > 1) {
        let bestScore = score(best);
        for (let k = i + 1; k < j; k++) {
          const row = order[k]!;
          const s = score(row);
          if (s > bestScore || (s === bestScore && row > best)) {
            best = row;
            bestScore = s;
          }
        }
      }
      keep[m++] = best;
      i = j;
    }

    const addrs = new Float64Array(m);
    const sizes = r.sizes ? new Uint32Array(m) : undefined;
    const names = new Uint32Array(m);
    const rows = new Uint32Array(m);
    for (let i = 0; i < m; i++) {
      const row = keep[i]!;
      addrs[i] = delta[row]!;
      if (sizes) sizes[i] = r.sizes![row]!;
      names[i] = r.nameOffsets[row]!;
      rows[i] = row;
    }
    const base = (BigInt(bhi) << 32n) | BigInt(blo);
    return new SymbolTable(base, addrs, sizes, names, rows, strtab);
  }

  /** The symbol's name, without a "@VERSION" / "@@VERSION" suffix (versioned .symtab names). */
  name(i: number): string {
    const strtab = this.strtab;
    const off = this.nameOffsets[i]!;
    let end = strtab.indexOf(0, off);
    if (end < 0) end = strtab.length;
    const at = strtab.indexOf(0x40 /* @ */, off);
    if (at > off && at < end) end = at;
    return strtab.toString('utf8', off, end);
  }

  address(i: number): bigint {
    return this.base + BigInt(this.addrs[i]!);
  }

  /** Symbol size, or undefined when sizes are unknown. */
  size(i: number): number | undefined {
    return this.sizes ? this.sizes[i]! : undefined;
  }

  /**
   * Index of the symbol covering addr, or -1. With sizes, the symbol must
   * contain addr (nested symbols are handled; a zero-sized symbol matches only
   * its own address); without sizes the nearest symbol at or below addr wins.
   */
  lookup(addr: bigint): number {
    if (this.length === 0 || addr < this.base) return -1;
    const d = Number(addr - this.base);
    const a = this.addrs;
    // upper bound: first index with a[i] > d
    let lo = 0;
    let hi = a.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (a[mid]! <= d) lo = mid + 1;
      else hi = mid;
    }
    let i = lo - 1;
    if (i < 0) return -1;
    const sizes = this.sizes;
    if (!sizes) return i;
    const cover = this.coverEnd!;
    for (; i >= 0; i--) {
      const size = sizes[i]!;
      if (d < a[i]! + size || (size === 0 && d === a[i]!)) return i;
      if (i === 0 || cover[i - 1]! <= d) break;
    }
    return -1;
  }

  /** The symbol covering addr with the offset into it, or undefined. */
  find(addr: bigint): { name: string; offset: number; address: bigint; index: number } | undefined {
    const i = this.lookup(addr);
    if (i < 0) return undefined;
    const d = Number(addr - this.base);
    return { name: this.name(i), offset: d - this.addrs[i]!, address: this.address(i), index: i };
  }
}

/** Sort row indices by (delta, row), stably. */
function sortByDelta(order: Uint32Array, delta: Float64Array): void {
  const n = order.length;
  let max = 0;
  for (let i = 0; i < n; i++) if (delta[i]! > max) max = delta[i]!;
  if (max < TWO32 && n < 1 << 21) {
    // Pack (delta, row) into one exact double and use the native numeric sort.
    const keys = new Float64Array(n);
    for (let i = 0; i < n; i++) keys[i] = delta[i]! * (1 << 21) + i;
    keys.sort();
    for (let i = 0; i < n; i++) order[i] = keys[i]! % (1 << 21);
  } else {
    order.sort((a, b) => delta[a]! - delta[b]! || a - b);
  }
}

// ---------------------------------------------------------------------------
// The ELF file

export class ElfFile {
  /** The path the file was read from. */
  readonly path: string;
  /** Offset of the ELF image in the file (nonzero for /proc/PID/mem). */
  readonly imageOffset: number;
  readonly root: string | undefined;
  readonly type: number;
  readonly machine: number;
  readonly entry: bigint;
  readonly sections: readonly ElfSection[];
  /** All program headers. */
  readonly segments: readonly ElfSegment[];
  /** The GNU build-id as lowercase hex, when present. */
  readonly buildId: string | undefined;
  readonly debugLink: DebugLink | undefined;
  private symtabCache: SymbolTable | undefined;
  private byName: Map<string, ElfSymbol> | undefined;
  private source: SymbolSource | undefined;
  private debugPath: string | undefined;

  private constructor(path: string, opts: ElfOpenOptions) {
    this.path = path;
    this.imageOffset = opts.offset ?? 0;
    this.root = opts.root;
    const fd = openSync(path, 'r');
    try {
      const base = this.imageOffset;
      const eh = readAt(fd, base, 64);
      if (eh.length < 64 || eh[0] !== 0x7f || eh[1] !== 0x45 || eh[2] !== 0x4c || eh[3] !== 0x46) {
        throw new ElfError(`${path}: not an ELF file`);
      }
      if (eh[4] !== 2) throw new ElfError(`${path}: not ELF64`);
      if (eh[5] !== 1) throw new ElfError(`${path}: not little-endian`);
      this.type = eh.readUInt16LE(16);
      this.machine = eh.readUInt16LE(18);
      this.entry = eh.readBigUInt64LE(24);
      const phoff = u64n(eh, 32);
      const shoff = u64n(eh, 40);
      const phentsize = eh.readUInt16LE(54);
      let phnum = eh.readUInt16LE(56);
      const shentsize = eh.readUInt16LE(58);
      let shnum = eh.readUInt16LE(60);
      let shstrndx = eh.readUInt16LE(62);

      // Section headers (with extended numbering in section 0).
      let sh: Buffer = Buffer.alloc(0);
      if (shoff !== 0 && shentsize >= 64) {
        if (shnum === 0 || shstrndx === SHN_XINDEX || phnum === PN_XNUM) {
          const s0 = readAt(fd, base + shoff, 64);
          if (s0.length === 64) {
            if (shnum === 0) shnum = u64n(s0, 32);
            if (shstrndx === SHN_XINDEX) shstrndx = s0.readUInt32LE(40);
            if (phnum === PN_XNUM) phnum = s0.readUInt32LE(44);
          }
        }
        if (shnum > 0 && shnum < 1 << 20) sh = readAt(fd, base + shoff, shnum * shentsize);
      }
      const sections: ElfSection[] = [];
      const count = shentsize > 0 ? Math.floor(sh.length / shentsize) : 0;
      for (let i = 0; i < count; i++) {
        const o = i * shentsize;
        sections.push({
          index: i,
          name: '',
          type: sh.readUInt32LE(o + 4),
          flags: u64n(sh, o + 8),
          addr: sh.readBigUInt64LE(o + 16),
          offset: u64n(sh, o + 24),
          size: u64n(sh, o + 32),
          link: sh.readUInt32LE(o + 40),
          info: sh.readUInt32LE(o + 44),
          addralign: u64n(sh, o + 48),
          entsize: u64n(sh, o + 56),
        });
      }
      const shstr = sections[shstrndx];
      if (shstr && shstr.type !== SHT_NOBITS && shstr.size < 1 << 24) {
        const names = readAt(fd, base + shstr.offset, shstr.size);
        for (let i = 0; i < count; i++) sections[i]!.name = cstring(names, sh.readUInt32LE(i * shentsize));
      }
      this.sections = sections;

      // Program headers.
      const segments: ElfSegment[] = [];
      if (phoff !== 0 && phentsize >= 56 && phnum > 0 && phnum < 1 << 16) {
        const ph = readAt(fd, base + phoff, phnum * phentsize);
        for (let i = 0; i < Math.floor(ph.length / phentsize); i++) {
          const o = i * phentsize;
          segments.push({
            type: ph.readUInt32LE(o),
            flags: ph.readUInt32LE(o + 4),
            offset: u64n(ph, o + 8),
            vaddr: ph.readBigUInt64LE(o + 16),
            filesz: u64n(ph, o + 32),
            memsz: u64n(ph, o + 40),
            align: u64n(ph, o + 48),
          });
        }
      }
      this.segments = segments;

      // GNU build-id: from note sections, else PT_NOTE segments.
      let buildId: string | undefined;
      const notes: Array<{ offset: number; size: number; align: number }> = [];
      for (const s of sections) if (s.type === SHT_NOTE) notes.push({ offset: s.offset, size: s.size, align: s.addralign });
      if (notes.length === 0) for (const p of segments) if (p.type === PT_NOTE) notes.push({ offset: p.offset, size: p.filesz, align: p.align });
      for (const n of notes) {
        if (n.size === 0 || n.size > 1 << 16) continue;
        buildId = parseBuildId(readAt(fd, base + n.offset, n.size), n.align >= 8 ? 8 : 4);
        if (buildId) break;
      }
      this.buildId = buildId;

      // .gnu_debuglink: NUL-terminated name, padding to 4, CRC32.
      let debugLink: DebugLink | undefined;
      const dl = sections.find((s) => s.name === '.gnu_debuglink' && s.type !== SHT_NOBITS);
      if (dl && dl.size > 0 && dl.size < 4096) {
        const b = readAt(fd, base + dl.offset, dl.size);
        const end = b.indexOf(0);
        if (end > 0) {
          const crcOff = (end + 4) & ~3;
          debugLink = { name: b.toString('utf8', 0, end), crc: crcOff + 4 <= b.length ? b.readUInt32LE(crcOff) : 0 };
        }
      }
      this.debugLink = debugLink;
    } finally {
      closeSync(fd);
    }
  }

  /** Read the headers of an ELF64 little-endian file (throws ElfError otherwise). */
  static open(path: string, opts: ElfOpenOptions = {}): ElfFile {
    return new ElfFile(path, opts);
  }

  get loadSegments(): ElfSegment[] {
    return this.segments.filter((p) => p.type === PT_LOAD);
  }

  section(name: string): ElfSection | undefined {
    return this.sections.find((s) => s.name === name);
  }

  get hasSymtab(): boolean {
    return this.sections.some((s) => s.type === SHT_SYMTAB && s.size > 0);
  }

  get hasDynsym(): boolean {
    return this.sections.some((s) => s.type === SHT_DYNSYM && s.size > 0);
  }

  /**
   * The ELF virtual address that file offset `fileOffset` is loaded at, from
   * the PT_LOAD segments; undefined when no segment maps it.
   */
  fileOffsetToVaddr(fileOffset: number): bigint | undefined {
    let fallback: ElfSegment | undefined;
    for (const p of this.segments) {
      if (p.type !== PT_LOAD) continue;
      if (fileOffset >= p.offset && fileOffset < p.offset + Math.max(p.filesz, 1)) {
        return p.vaddr + BigInt(fileOffset - p.offset);
      }
      // Outside every segment's bytes but in a page mapped for one (the
      // start of the page a segment begins in, or the rest of its last page):
      // the segment whose first page is the last at or before the offset.
      const start = p.offset - (p.offset % PAGE);
      if (fileOffset >= start && fileOffset < p.offset + p.filesz + PAGE && (!fallback || start >= fallback.offset - (fallback.offset % PAGE))) {
        fallback = p;
      }
    }
    if (fallback) return fallback.vaddr + BigInt(fileOffset) - BigInt(fallback.offset);
    return undefined;
  }

  /**
   * The file offset that virtual address `vaddr` is loaded from (the inverse
   * of fileOffsetToVaddr): what a uprobe's offset is. Undefined when no
   * PT_LOAD segment holds file bytes at that address.
   */
  vaddrToFileOffset(vaddr: bigint): number | undefined {
    for (const p of this.segments) {
      if (p.type !== PT_LOAD || vaddr < p.vaddr || vaddr >= p.vaddr + BigInt(p.filesz)) continue;
      return p.offset + Number(vaddr - p.vaddr);
    }
    return undefined;
  }

  /**
   * The defined function (or ifunc) symbol called exactly `name` (no
   * "@version"), from .symtab, else .dynsym. Unlike symbols(), which keeps
   * one name per address, every alias is found: libc's `free` as well as
   * `__libc_free` and `cfree`. The first lookup indexes every name.
   */
  findSymbol(name: string): ElfSymbol | undefined {
    if (!this.byName) {
      const map = new Map<string, ElfSymbol>();
      // .dynsym first, so .symtab's entries (which include local symbols) win.
      for (const type of [SHT_DYNSYM, SHT_SYMTAB]) {
        const sec = this.sections.find((s) => s.type === type && s.size > 0);
        if (!sec) continue;
        const strsec = this.sections[sec.link];
        if (!strsec || strsec.type === SHT_NOBITS) continue;
        let syms: Buffer;
        let strtab: Buffer;
        const fd = openSync(this.path, 'r');
        try {
          syms = readAt(fd, this.imageOffset + sec.offset, sec.size);
          strtab = readAt(fd, this.imageOffset + strsec.offset, strsec.size);
        } finally {
          closeSync(fd);
        }
        const ent = sec.entsize >= 24 ? sec.entsize : 24;
        for (let o = ent; o + 24 <= syms.length; o += ent) {
          const info = syms[o + 4]!;
          const st = info & 0xf;
          if (st !== STT_FUNC && st !== STT_GNU_IFUNC) continue;
          if (syms.readUInt16LE(o + 6) === SHN_UNDEF) continue;
          let n = cstring(strtab, syms.readUInt32LE(o));
          const at = n.indexOf('@');
          if (at > 0) n = n.slice(0, at);
          if (!n) continue;
          const prev = map.get(n);
          const bind = info >> 4;
          // Several entries of one name (a local and a global, or versions):
          // the global or weak one, as a dynamic linker would pick.
          if (prev && bind === STB_LOCAL) continue;
          map.set(n, {
            name: n,
            address: syms.readBigUInt64LE(o + 8),
            size: u64n(syms, o + 16),
            ifunc: st === STT_GNU_IFUNC,
            source: type === SHT_SYMTAB ? 'symtab' : 'dynsym',
          });
        }
      }
      this.byName = map;
    }
    return this.byName.get(name);
  }

  /**
   * Separate debug info for this file: /usr/lib/debug/.build-id/xx/yyyy.debug
   * when the build-id is known, else the .gnu_debuglink name next to the file,
   * in its .debug/ directory, or under /usr/lib/debug. Checked under `root`
   * first, then on the host.
   */
  findDebugFile(): string | undefined {
    const roots = this.root ? [this.root, ''] : [''];
    const id = this.buildId;
    if (id && id.length > 2) {
      for (const r of roots) {
        const p = `${r}/usr/lib/debug/.build-id/${id.slice(0, 2)}/${id.slice(2)}.debug`;
        if (existsSync(p)) return p;
      }
    }
    const link = this.debugLink;
    if (link && this.imageOffset === 0) {
      const dir = dirname(this.path);
      const inRoot = this.root && dir.startsWith(this.root) ? dir.slice(this.root.length) || '/' : dir;
      const cands = [join(dir, link.name), join(dir, '.debug', link.name)];
      for (const r of roots) cands.push(join(`${r}/usr/lib/debug`, inRoot, link.name));
      for (const p of cands) {
        if (p === this.path || !existsSync(p)) continue;
        try {
          const dbg = ElfFile.open(p);
          if (id && dbg.buildId && dbg.buildId !== id) continue;
          if (dbg.hasSymtab) return p;
        } catch {
          // not a usable debug file
        }
      }
    }
    return undefined;
  }

  /** Where symbols() reads symbols from (computes the table if needed). */
  get symbolSource(): SymbolSource {
    this.symbols();
    return this.source!;
  }

  /** Path of the separate debug file the symbols came from, if any. */
  get debugFile(): string | undefined {
    this.symbols();
    return this.debugPath;
  }

  /**
   * The function and object symbols (STT_FUNC, STT_OBJECT, STT_GNU_IFUNC;
   * defined, nonzero size or value), address-sorted. From .symtab; when the
   * file is stripped, from a separate debug file's .symtab if one is found,
   * else from .dynsym. Computed once.
   */
  symbols(): SymbolTable {
    if (this.symtabCache) return this.symtabCache;
    let table: SymbolTable | undefined;
    if (this.hasSymtab) {
      table = tryRead(() => this.readSymbols(SHT_SYMTAB));
      if (table) this.source = 'symtab';
    } else {
      const dbgPath = this.findDebugFile();
      if (dbgPath) {
        try {
          const dbg = ElfFile.open(dbgPath);
          if (dbg.hasSymtab) {
            table = dbg.readSymbols(SHT_SYMTAB);
            this.source = 'debug';
            this.debugPath = dbgPath;
          }
        } catch {
          // fall back to .dynsym
        }
      }
      if (!table && this.hasDynsym) {
        table = tryRead(() => this.readSymbols(SHT_DYNSYM));
        if (table) this.source = 'dynsym';
      }
      // MiniDebugInfo (debugdata.ts): its local functions beside .dynsym's.
      const mini = !this.debugPath ? miniDebugInfoSymbols(this) : undefined;
      if (mini) {
        table = table ? mergeSymbolTables(mini, table) : mini;
        this.source = 'debug';
      }
    }
    if (!table) {
      table = SymbolTable.empty();
      this.source = 'none';
    }
    this.symtabCache = table;
    return table;
  }

  /** Read one symbol table section (SHT_SYMTAB or SHT_DYNSYM) and its strings. */
  readSymbols(type: number): SymbolTable {
    const sec = this.sections.find((s) => s.type === type && s.size > 0);
    if (!sec) return SymbolTable.empty();
    const strsec = this.sections[sec.link];
    const fd = openSync(this.path, 'r');
    let syms: Buffer;
    let strtab: Buffer;
    try {
      syms = readAt(fd, this.imageOffset + sec.offset, sec.size);
      strtab = strsec && strsec.type !== SHT_NOBITS ? readAt(fd, this.imageOffset + strsec.offset, strsec.size) : Buffer.alloc(0);
    } finally {
      closeSync(fd);
    }
    const ent = sec.entsize >= 24 ? sec.entsize : 24;
    const total = Math.floor(syms.length / ent);
    const hi = new Uint32Array(total);
    const lo = new Uint32Array(total);
    const sizes = new Uint32Array(total);
    const nameOffsets = new Uint32Array(total);
    const rank = new Uint8Array(total);
    let n = 0;
    for (let i = 1; i < total; i++) {
      const o = i * ent;
      const info = syms[o + 4]!;
      const st = info & 0xf;
      if (st !== STT_FUNC && st !== STT_OBJECT && st !== STT_GNU_IFUNC) continue;
      if (syms.readUInt16LE(o + 6) === SHN_UNDEF) continue;
      const vlo = syms.readUInt32LE(o + 8);
      const vhi = syms.readUInt32LE(o + 12);
      const slo = syms.readUInt32LE(o + 16);
      const shi = syms.readUInt32LE(o + 20);
      if (vlo === 0 && vhi === 0 && slo === 0 && shi === 0) continue;
      const name = syms.readUInt32LE(o);
      if (name === 0 || name >= strtab.length) continue;
      const bind = info >> 4;
      hi[n] = vhi;
      lo[n] = vlo;
      sizes[n] = shi !== 0 ? 0xffffffff : slo;
      nameOffsets[n] = name;
      // Prefer functions over data, then global over weak over local.
      rank[n] = (st === STT_OBJECT ? 0 : 4) + (bind === STB_GLOBAL ? 2 : bind === STB_WEAK ? 1 : 0);
      n++;
    }
    return SymbolTable.build({ count: n, hi, lo, sizes, nameOffsets, rank, strtab });
  }
}

function tryRead(read: () => SymbolTable): SymbolTable | undefined {
  try {
    return read();
  } catch {
    return undefined; // the file went away or is truncated
  }
}

function parseBuildId(b: Buffer, align: number): string | undefined {
  let o = 0;
  const pad = (x: number) => (x + align - 1) & ~(align - 1);
  while (o + 12 <= b.length) {
    const namesz = b.readUInt32LE(o);
    const descsz = b.readUInt32LE(o + 4);
    const type = b.readUInt32LE(o + 8);
    const nameOff = o + 12;
    const descOff = nameOff + pad(namesz);
    if (descOff + descsz > b.length) break;
    if (type === NT_GNU_BUILD_ID && namesz === 4 && b.toString('latin1', nameOff, nameOff + 3) === 'GNU' && descsz > 0) {
      return b.toString('hex', descOff, descOff + descsz);
    }
    o = descOff + pad(descsz);
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// A process-wide cache of parsed ELF files, keyed by file identity.

const elfCache = new Map<string, ElfFile | null>();

/**
 * Open an ELF file through a cache keyed by (dev, inode, mtime, size), so
 * symbolizers for different processes share one parse of libc. Returns
 * undefined when the file is missing or not a readable ELF64 LE file.
 */
export function openElfCached(path: string, opts: ElfOpenOptions = {}): ElfFile | undefined {
  let key: string;
  try {
    const st = statSync(path, { bigint: true });
    key = `${st.dev}:${st.ino}:${st.mtimeNs}:${st.size}`;
  } catch {
    return undefined;
  }
  const hit = elfCache.get(key);
  if (hit !== undefined) return hit ?? undefined;
  let elf: ElfFile | null = null;
  try {
    elf = ElfFile.open(path, opts);
  } catch {
    elf = null;
  }
  elfCache.set(key, elf);
  return elf ?? undefined;
}

/** Forget all cached ELF files. */
export function clearElfCache(): void {
  elfCache.clear();
}
