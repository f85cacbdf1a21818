// Whole stacks for reports that come again and again (memleak; profile,
// offcputime next): frames as objects (name, offset, module, BCC's text),
// a process's symbols kept past its exit, and C++ names demangled once
// across reports, every address resolved once.
import { readFileSync } from 'node:fs';
import { UserSymbolizer } from './user.js';
import type { ResolvedSymbol, Symbolizer } from './kernel.js';
import { demangleMap, formatFrame } from './index.js';

/** One frame of a reported stack. */
export interface Frame {
  address: bigint;
  /** Function name (demangled), when known. */
  name?: string;
  /** Offset into the function (or into the module when the name is unknown). */
  offset?: number;
  /** Module basename ("libc.so.6", "kernel"). */
  module?: string;
  /** As BCC prints it: `name+0xoff [module]`, `[unknown] [module]` or `[unknown]`. */
  text: string;
}

/**
 * A process's symbols that outlive the process: its code mappings are read
 * while it runs (at start and whenever snapshot() is called), a new
 * UserSymbolizer is made only when they changed (dlopen, exec; not for heap
 * and anonymous mappings, which come and go all the time), and the last one
 * is kept when the process is gone, so a report after it exited still names
 * its functions. Each address is resolved once per symbolizer.
 */
export class ProcessSymbols implements Symbolizer {
  readonly pid: number;
  #code = '';
  #current: UserSymbolizer;

  constructor(pid: number) {
    this.pid = pid;
    this.#current = new UserSymbolizer(pid);
    this.snapshot();
  }

  /** Re-reads the mappings if the process still runs; true when its code mappings changed. */
  snapshot(): boolean {
    let text: string;
    try {
      text = readFileSync(`/proc/${this.pid}/maps`, 'latin1');
    } catch {
      return false;
    }
    // Executable file mappings are all symbolization needs.
    const code = text
      .split('\n')
      .filter((l) => /^\S+ ..x. /.test(l) && l.includes(' /'))
      .join('\n');
    if (code === '' || code === this.#code) return false;
    this.#code = code;
    const sym = new UserSymbolizer(this.pid);
    // Open every executable file mapping now (its symbol table is read
    // once): later lookups, even after the process has exited, need no
    // more than this.
    for (const m of sym.mappings()) if (m.perms.includes('x') && m.path.startsWith('/')) sym.resolve(BigInt(m.start));
    this.#current = sym;
    return true;
  }

  resolve(addr: bigint): ResolvedSymbol | undefined {
    return this.#current.resolve(addr);
  }
}

/** Demangled names, across reports: c++filt runs once per call of add(), for names not seen before. */
export class Demangler {
  #known = new Map<string, string>();
  #tried = new Set<string>();

  /** Makes sure every mangled name in `names` has been through c++filt. */
  add(names: Iterable<string>): void {
    const fresh: string[] = [];
    for (const n of names) {
      if (this.#tried.has(n)) continue;
      this.#tried.add(n);
      fresh.push(n);
    }
    for (const [k, v] of demangleMap(fresh)) this.#known.set(k, v);
  }

  get map(): ReadonlyMap<string, string> {
    return this.#known;
  }
}

/**
 * Resolves stacks (innermost address first) to frames: each address once
 * (the symbolizer caches it), the C++ names of all of them through one
 * c++filt run of `demangler` for those it has not seen.
 */
export function resolveStacks(sym: Symbolizer, stacks: ReadonlyArray<readonly bigint[]>, demangler: Demangler): Frame[][] {
  const resolved = stacks.map((st) => st.map((a) => sym.resolve(a)));
  const names: string[] = [];
  for (const st of resolved) for (const r of st) if (r?.name !== undefined) names.push(r.name);
  demangler.add(names);
  const demangled = demangler.map;
  return stacks.map((st, i) =>
    st.map((address, j) => {
      const r = resolved[i]![j];
      const frame: Frame = { address, text: formatFrame(address, r, { demangled }) };
      if (r?.name !== undefined) frame.name = demangled.get(r.name) ?? r.name;
      if (r) frame.offset = r.offset;
      if (r?.module !== undefined) frame.module = r.module;
      return frame;
    }),
  );
}

/**
 * A frame as the stack tools' --json prints it, by the JSON convention (core
 * README): the API's Frame under its own names, the 64-bit address a decimal
 * string, then what is known (`text`, made of these, is left out).
 */
export function frameJson(f: Frame): { address: string; name?: string; offset?: number; module?: string } {
  return {
    address: f.address.toString(),
    ...(f.name !== undefined ? { name: f.name } : {}),
    ...(f.offset !== undefined ? { offset: f.offset } : {}),
    ...(f.module !== undefined ? { module: f.module } : {}),
  };
}
