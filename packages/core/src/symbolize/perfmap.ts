// JIT frames: /tmp/perf-PID.map, the file a JIT writes for perf (node
// --perf-basic-prof, the JVM's perf-map-agent, LuaJIT...). One line per
// piece of generated code: `START SIZE name`, hex without 0x, appended as
// code is compiled. Its addresses are anonymous memory, which no ELF file
// covers: this symbolizer answers for them after the process's own.
import { readFileSync, statSync } from 'node:fs';
import type { ResolvedSymbol, Symbolizer } from './kernel.js';

interface Entry {
  start: number;
  end: number;
  name: string;
}

/** The perf map of one process, read again when it grew (and kept when the process is gone). */
export class PerfMap implements Symbolizer {
  readonly pid: number;
  readonly path: string;
  #size = -1;
  #entries: Entry[] = [];

  constructor(pid: number) {
    this.pid = pid;
    // In a container the JIT wrote its own /tmp.
    const viaRoot = `/proc/${pid}/root/tmp/perf-${pid}.map`;
    let path = `/tmp/perf-${pid}.map`;
    try {
      statSync(viaRoot);
      path = viaRoot;
    } catch {}
    this.path = path;
    this.refresh();
  }

  /** Re-reads the file if its size changed; true when there is one. */
  refresh(): boolean {
    let size: number;
    try {
      size = statSync(this.path).size;
    } catch {
      return this.#size >= 0;
    }
    if (size === this.#size) return true;
    const entries: Entry[] = [];
    for (const line of readFileSync(this.path, 'latin1').split('\n')) {
      const m = /^([0-9a-fA-F]+) ([0-9a-fA-F]+) (.*)$/.exec(line);
      if (!m) continue;
      const start = parseInt(m[1]!, 16);
      entries.push({ start, end: start + parseInt(m[2]!, 16), name: m[3]! });
    }
    // Later lines win (code recompiled at the same place): stable sort, then last one per start.
    entries.sort((a, b) => a.start - b.start);
    this.#entries = entries.filter((e, i) => entries[i + 1]?.start !== e.start);
    this.#size = size;
    return true;
  }

  get entries(): number {
    return this.#entries.length;
  }

  resolve(addr: bigint): ResolvedSymbol | undefined {
    const a = Number(addr);
    const es = this.#entries;
    let lo = 0;
    let hi = es.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (es[mid]!.start <= a) lo = mid + 1;
      else hi = mid;
    }
    const e = es[lo - 1];
    return e && a < e.end ? { name: e.name, offset: a - e.start, module: `perf-${this.pid}.map` } : undefined;
  }
}

/**
 * A process's symbols, then its perf map for what they leave unnamed and
 * unmapped (JIT code). The map is read again (if it grew) on snapshot().
 */
export class WithPerfMap implements Symbolizer {
  readonly perfMap: PerfMap;
  constructor(
    readonly inner: Symbolizer & { snapshot?: () => unknown },
    pid: number,
  ) {
    this.perfMap = new PerfMap(pid);
  }

  snapshot(): void {
    this.inner.snapshot?.();
    this.perfMap.refresh();
  }

  resolve(addr: bigint): ResolvedSymbol | undefined {
    const r = this.inner.resolve(addr);
    if (r && (r.name !== undefined || r.module !== undefined)) return r;
    return this.perfMap.resolve(addr) ?? r;
  }
}
