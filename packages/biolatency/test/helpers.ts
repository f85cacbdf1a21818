// Shared by the biolatency tests: a direct-I/O workload (test/c/dio.c) on a
// file on the disk under test, a cgroup to run it in, and BCC's histogram
// layout parsed back. The CLI as a child process comes from test/support.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { blockDeviceName, type DeviceNumber } from '@ebpf/core';
import { tempDir } from '../../../test/support/tmp.js';
import { compileC, run } from '../../../test/support/workload.js';

/** The device a path's file system is on (decoding glibc's st_dev layout). */
export function deviceOf(path: string): DeviceNumber {
  const dev = BigInt(statSync(path, { bigint: true }).dev);
  const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
  return { major, minor };
}

export interface Workload {
  dir: string;
  /** The compiled dio binary. */
  dio: string;
  /** A 4 MiB file, written and fsync'd, for direct I/O. */
  file: string;
  /** The disk the file lives on (vda here). */
  disk: string;
  cleanup(): void;
}

/** Builds dio and its data file in a temporary directory on the root disk. */
export function workload(): Workload {
  const { dir, cleanup } = tempDir('biolatency-test-');
  const dio = compileC(new URL('./c/dio.c', import.meta.url));
  const file = join(dir, 'data');
  execFileSync(dio, [file, 'prep', '1024']);
  const dev = deviceOf(file);
  const disk = blockDeviceName(dev) ?? `${dev.major}:${dev.minor}`;
  return { dir, dio, file, disk, cleanup };
}

/**
 * Runs dio (`mode` read/write/loop, `n` I/Os or milliseconds); resolves with
 * the number of I/Os it did. With `cgroup`, it moves itself there first.
 */
export async function dio(w: Workload, mode: 'read' | 'write' | 'loop', n: number, cgroup?: string): Promise<number> {
  const args = [w.file, mode, String(n)];
  const r = cgroup
    ? await run('/bin/sh', ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', cgroup, w.dio, ...args])
    : await run(w.dio, args);
  if (r.code !== 0) throw new Error(`dio ${mode} exited ${r.code}`);
  return Number(r.stdout.trim());
}

/** Where cgroup v2 is mounted (hybrid systems: /sys/fs/cgroup/unified). */
export function cgroup2Root(): string | undefined {
  for (const line of readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f[2] === 'cgroup2') return f[1];
  }
  return undefined;
}

/** A new, empty cgroup v2 directory, removed by cleanup (once its processes are gone). */
export function makeCgroup(): { path: string; cleanup: () => void } | undefined {
  const root = cgroup2Root();
  if (!root) return undefined;
  const path = join(root, `biolatency-test-${process.pid}-${Date.now()}`);
  mkdirSync(path);
  return {
    path,
    cleanup: () => {
      try {
        rmdirSync(path);
      } catch {
        // still busy: leave it
      }
    },
  };
}

export interface ParsedHistogram {
  unit: string;
  rows: Array<{ low: number; high: number; count: number; bar: string }>;
  total: number;
}

const HEADER = /^     (usecs|msecs)               : count     distribution$/;
const ROW = /^ {0,9}(\d+) -> (\d+) +: (\d+) +\|([* ]{40})\|$/;

/**
 * Parses printed histograms: every header line and the rows under it, each
 * checked against BCC's exact layout ("%10d -> %-10d : %-8d |%-40s|").
 */
export function parseHistograms(text: string): ParsedHistogram[] {
  const out: ParsedHistogram[] = [];
  let cur: ParsedHistogram | undefined;
  for (const line of text.split('\n')) {
    const h = HEADER.exec(line);
    if (h) {
      cur = { unit: h[1]!, rows: [], total: 0 };
      out.push(cur);
      continue;
    }
    const r = ROW.exec(line);
    if (r && cur) {
      const row = { low: Number(r[1]), high: Number(r[2]), count: Number(r[3]), bar: r[4]! };
      // exact column layout
      const expected = `${String(row.low).padStart(10)} -> ${String(row.high).padEnd(10)} : ${String(row.count).padEnd(8)} |${row.bar}|`;
      if (line !== expected) throw new Error(`row not in BCC's layout:\n${line}\n${expected}`);
      cur.rows.push(row);
      cur.total += row.count;
      continue;
    }
    cur = undefined;
  }
  return out;
}
