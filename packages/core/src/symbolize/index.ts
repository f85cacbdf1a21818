// Stack address symbolization: kernel (kallsyms), user (ELF symbols of the
// mapped files), C++ demangling through one c++filt call, and BCC's frame
// format `name+0xoff [module]`.

import { openElfCached } from './elf.js';
import type { ResolvedSymbol, Symbolizer } from './kernel.js';
import { childProcess } from '../kernel/child-process.js';

export {
  ElfError,
  ElfFile,
  SymbolTable,
  clearElfCache,
  openElfCached,
  type DebugLink,
  type ElfSymbol,
  type ElfOpenOptions,
  type ElfSection,
  type ElfSegment,
  type SymbolSource,
} from './elf.js';
export {
  KERNEL_MODULE,
  KernelSymbolizer,
  parseKallsyms,
  type KernelSymbolizerOptions,
  type ResolvedSymbol,
  type Symbolizer,
} from './kernel.js';
export { UserSymbolizer, parseMaps, type Mapping, type UserSymbolizerOptions } from './user.js';
export { ProcessSymbols, Demangler, resolveStacks, frameJson, type Frame } from './stacks.js';
export { StackCounts, type StackCount, type StackCountsOptions, type StackCountsTake, type StackFrames, type StackIds, type StackKey } from './stackcounts.js';
export { Reg, decode, kernelEmulates, findProbePoint, rel32Targets, placeProbes, type Insn, type ProbePointOptions, type ProbePoint, type PlacedProbe } from './probe-point.js';

/**
 * Where a uprobe on `symbol` (plus `delta` bytes) goes in the ELF file at
 * `path`: its file offset, the value perf-event and uprobe_multi attachment
 * take. Also the symbol's start offset and size, for reading its code.
 * Undefined when the file has no such function.
 */
export function uprobeOffset(path: string, symbol: string, delta = 0): { offset: number; start: number; size: number } | undefined {
  const elf = openElfCached(path);
  const sym = elf?.findSymbol(symbol);
  if (!elf || !sym || sym.ifunc) return undefined;
  const start = elf.vaddrToFileOffset(sym.address);
  if (start === undefined) return undefined;
  return { offset: start + delta, start, size: sym.size };
}

export interface FormatFrameOptions {
  /** Append `+0xoff` to known names (default true; BCC's show_offset). */
  showOffset?: boolean;
  /** Append ` [module]` when the module is known (default true; BCC's show_module). */
  showModule?: boolean;
  /**
   * Prefix `0x%016x\t` with the raw address, as memleak's default (non
   * --combined-only) report does (default false).
   */
  showAddress?: boolean;
  /** Display names for symbol names, e.g. from demangleMap(). */
  demangled?: ReadonlyMap<string, string>;
}

/**
 * One frame as BCC's BPF.sym() prints it: `name+0xoff [module]`; with no
 * symbol `[unknown] [module]` when the module is known, else `[unknown]`.
 * memleak prints every frame with show_module and show_offset, kernel frames
 * too (`vfs_read+0x10 [kernel]`), and in its default report each frame is
 * preceded by `0x%016x\t` (showAddress).
 */
export function formatFrame(addr: bigint, sym: ResolvedSymbol | undefined, opts: FormatFrameOptions = {}): string {
  let s = opts.showAddress ? `0x${addr.toString(16).padStart(16, '0')}\t` : '';
  if (sym?.name !== undefined) {
    s += opts.demangled?.get(sym.name) ?? sym.name;
    if (opts.showOffset ?? true) s += `+0x${sym.offset.toString(16)}`;
  } else {
    s += '[unknown]';
  }
  if ((opts.showModule ?? true) && sym?.module !== undefined) s += ` [${sym.module}]`;
  return s;
}

function isMangled(name: string): boolean {
  return name.startsWith('_Z') || name.startsWith('___Z');
}

/**
 * Demangled display names for the C++ names (`_Z...`) among `names`, from one
 * `c++filt` run. Names that are not mangled are left out of the map; when
 * c++filt is missing or fails, the map is empty.
 */
export function demangleMap(names: Iterable<string>): Map<string, string> {
  const map = new Map<string, string>();
  const want: string[] = [];
  const seen = new Set<string>();
  for (const n of names) {
    if (!isMangled(n) || seen.has(n) || n.includes('\n')) continue;
    seen.add(n);
    want.push(n);
  }
  if (want.length === 0) return map;
  let out: string;
  try {
    out = childProcess().execFileSync('c++filt', [], {
      input: want.join('\n') + '\n',
      encoding: 'utf8',
      stdio: ['pipe', 'pipe', 'ignore'],
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch {
    return map;
  }
  const lines = out.split('\n');
  if (lines.length < want.length) return map;
  for (let i = 0; i < want.length; i++) map.set(want[i]!, lines[i]!);
  return map;
}

/**
 * Demangle C++ names with a single `c++filt` child process for the whole
 * list; other names, and all names when c++filt is missing, are returned
 * unchanged.
 */
export function demangle(names: readonly string[]): string[] {
  const map = demangleMap(names);
  return names.map((n) => map.get(n) ?? n);
}

export interface FormatStacksOptions extends Omit<FormatFrameOptions, 'demangled'> {
  /** Demangle C++ names (one c++filt run for all stacks; default false). */
  demangle?: boolean;
}

/**
 * Format whole stacks for one report: every address is resolved through the
 * symbolizer's per-address cache, and with `demangle` all names of the report
 * go through c++filt together.
 */
export function formatStacks(symbolizer: Symbolizer, stacks: ReadonlyArray<readonly bigint[]>, opts: FormatStacksOptions = {}): string[][] {
  const resolved = stacks.map((st) => st.map((a) => symbolizer.resolve(a)));
  let demangled: Map<string, string> | undefined;
  if (opts.demangle) {
    const names: string[] = [];
    for (const st of resolved) for (const r of st) if (r?.name !== undefined) names.push(r.name);
    demangled = demangleMap(names);
  }
  const fo: FormatFrameOptions = { ...opts, demangled };
  return stacks.map((st, i) => st.map((a, j) => formatFrame(a, resolved[i]![j], fo)));
}
export { PerfMap, WithPerfMap } from './perfmap.js';
