// Kernel address symbolization from /proc/kallsyms, as BCC's KSyms does it:
// the nearest text symbol at or below the address, `name+0xoff`, module
// "kernel" for the core image and the [module] name for module symbols.

import { readFileSync } from 'node:fs';
import { SymbolTable } from './elf.js';

/** One resolved frame. `name` is undefined when only the module is known. */
export interface ResolvedSymbol {
  name?: string;
  /** Offset from the symbol's start (or into the module when name is undefined). */
  offset: number;
  /** Module basename: "libc.so.6", or "kernel" / a kernel module name. */
  module?: string;
}

/** Anything that turns stack addresses into symbols. */
export interface Symbolizer {
  resolve(addr: bigint): ResolvedSymbol | undefined;
}

export interface KernelSymbolizerOptions {
  /** Default /proc/kallsyms. */
  path?: string;
}

const HEX = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) HEX[0x30 + c] = c;
for (let c = 0; c < 6; c++) {
  HEX[0x61 + c] = 10 + c;
  HEX[0x41 + c] = 10 + c;
}

/** Core kernel symbols report this module name, as BCC does. */
export const KERNEL_MODULE = 'kernel';

interface KallsymsTable {
  table: SymbolTable;
  /** Per table entry: index into `modules`. */
  moduleOf: Uint16Array;
  modules: string[];
}

/**
 * Parse kallsyms text: keep text symbols (t, T, w, W) with a nonzero address,
 * with their [module]. One pass over the bytes; names are copied into one
 * compact NUL-separated buffer and decoded only when a lookup returns them.
 */
export function parseKallsyms(buf: Buffer): KallsymsTable {
  // Every line is at least 20 bytes ("<16 hex> T x\n"); grow if shorter ones show up.
  let cap = Math.max(16, Math.ceil(buf.length / 20));
  let hi = new Uint32Array(cap);
  let lo = new Uint32Array(cap);
  let nameOffsets = new Uint32Array(cap);
  let rank = new Uint8Array(cap);
  let mods = new Uint16Array(cap);
  const names = Buffer.allocUnsafe(buf.length + 1);
  const modules: string[] = [KERNEL_MODULE];
  const moduleIds = new Map<string, number>();
  let lastModStart = -1;
  let lastModEnd = -1;
  let lastModId = 0;
  let namesLen = 0;
  let n = 0;
  const len = buf.length;
  let p = 0;
  while (p < len) {
    // address
    let h = 0;
    let l = 0;
    let q = p;
    for (; q < len; q++) {
      const d = HEX[buf[q]!]!;
      if (d < 0) break;
      h = ((h << 4) | (l >>> 28)) >>> 0;
      l = ((l << 4) | d) >>> 0;
    }
    // " T name[\t[module]]\n"
    const type = buf[q + 1];
    const keep =
      (h !== 0 || l !== 0) &&
      q > p &&
      buf[q] === 0x20 &&
      (type === 0x74 /* t */ || type === 0x54 /* T */ || type === 0x77 /* w */ || type === 0x57) /* W */;
    let e = q + 3;
    if (!keep) {
      e = buf.indexOf(10, q);
      p = e < 0 ? len : e + 1;
      continue;
    }
    if (n === cap) {
      cap *= 2;
      hi = grow(hi, cap);
      lo = grow(lo, cap);
      nameOffsets = grow(nameOffsets, cap);
      rank = grow(rank, cap);
      mods = grow(mods, cap);
    }
    // Copy the name while scanning for its end.
    const nameOffset = namesLen;
    let c = 0;
    while (e < len && (c = buf[e]!) !== 10 && c !== 9 && c !== 0x20) {
      names[namesLen++] = c;
      e++;
    }
    names[namesLen++] = 0;
    let mod = 0;
    if (c === 9 || c === 0x20) {
      // "\t[module]"
      let eol = buf.indexOf(10, e);
      if (eol < 0) eol = len;
      const br = buf.indexOf(0x5b /* [ */, e);
      if (br >= 0 && br < eol) {
        let close = buf.indexOf(0x5d /* ] */, br + 1);
        if (close < 0 || close > eol) close = eol;
        const ms = br + 1;
        if (lastModStart >= 0 && close - ms === lastModEnd - lastModStart && buf.compare(buf, lastModStart, lastModEnd, ms, close) === 0) {
          mod = lastModId;
        } else {
          const name = buf.toString('utf8', ms, close);
          let id = moduleIds.get(name);
          if (id === undefined) {
            id = modules.length;
            if (id > 0xffff) id = 0xffff;
            else {
              modules.push(name);
              moduleIds.set(name, id);
            }
          }
          mod = id;
        }
        lastModStart = ms;
        lastModEnd = close;
        lastModId = mod;
      }
      e = eol;
    }
    hi[n] = h;
    lo[n] = l;
    nameOffsets[n] = nameOffset;
    // Prefer global (T) over weak (W) over local (t, w) names at one address.
    rank[n] = type === 0x54 ? 2 : type === 0x57 ? 1 : 0;
    mods[n] = mod;
    n++;
    p = e + 1;
  }
  const strtab = Buffer.from(names.subarray(0, namesLen));
  const table = SymbolTable.build({ count: n, hi, lo, nameOffsets, rank, strtab });
  const moduleOf = new Uint16Array(table.length);
  for (let i = 0; i < table.length; i++) moduleOf[i] = mods[table.rows[i]!]!;
  return { table, moduleOf, modules };
}

function grow<T extends Uint32Array | Uint16Array | Uint8Array>(a: T, cap: number): T {
  const b = new (a.constructor as new (n: number) => T)(cap);
  b.set(a);
  return b;
}

/**
 * Kernel symbolizer. /proc/kallsyms is read once, on the first lookup (or
 * load()); each distinct address is resolved once and cached.
 */
export class KernelSymbolizer implements Symbolizer {
  readonly path: string;
  private data: KallsymsTable | undefined;
  private readonly cache = new Map<bigint, ResolvedSymbol | null>();

  constructor(opts: KernelSymbolizerOptions = {}) {
    this.path = opts.path ?? '/proc/kallsyms';
  }

  /** Read and index kallsyms now (otherwise done on the first resolve()). */
  load(): void {
    if (!this.data) this.data = parseKallsyms(readFileSync(this.path));
  }

  /** Number of text symbols indexed (loads kallsyms). */
  get size(): number {
    this.load();
    return this.data!.table.length;
  }

  /** Re-read kallsyms on the next lookup (modules loaded or unloaded). */
  refresh(): void {
    this.data = undefined;
    this.cache.clear();
  }

  /**
   * The nearest kernel text symbol at or below addr: { name, offset, module }
   * with module "kernel" or the kernel module's name; undefined below the
   * first symbol or when kallsyms shows no addresses (not root).
   */
  resolve(addr: bigint): ResolvedSymbol | undefined {
    const hit = this.cache.get(addr);
    if (hit !== undefined) return hit ?? undefined;
    this.load();
    const { table, moduleOf, modules } = this.data!;
    const i = table.lookup(addr);
    let res: ResolvedSymbol | null = null;
    if (i >= 0) {
      res = { name: table.name(i), offset: Number(addr - table.address(i)), module: modules[moduleOf[i]!]! };
    }
    this.cache.set(addr, res);
    return res ?? undefined;
  }
}
