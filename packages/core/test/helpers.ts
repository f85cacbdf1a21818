// Shared by the core's integration tests: the compiled test objects, a way to
// make the test process call getppid() a known number of times, a small C
// workload for uprobes and USDT, and views of what the process and the kernel
// hold (fds, bpftool).
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ObjectSpec, type BpfObject } from '../src/index.js';
import type { Config } from './bpf/probes.gen.js';

export const BPF_DIST = fileURLToPath(new URL('./bpf/dist/', import.meta.url));
export const PROBES = join(BPF_DIST, 'probes.bpf.o');
export const REJECTED = join(BPF_DIST, 'rejected.bpf.o');
export const MISSING = join(BPF_DIST, 'missing.bpf.o');
/** The built package entry, for child processes that import the core. */
export const CORE_DIST_INDEX = fileURLToPath(new URL('../dist/index.js', import.meta.url));

/** __NR_getppid on x86_64. */
export const NR_GETPPID = 110;
/** Size of the `events` ring buffer in probes.bpf.c. */
export const RING_BYTES = 16 * 1024;

/** Program names of probes.bpf.c (all shorter than the kernel's 15-char limit). */
export const PROBE_PROGRAMS = [
  'getppid_ring',
  'getppid_perf',
  'raw_sys_enter',
  'btf_sys_enter',
  'on_uprobe',
  'on_uretprobe',
  'on_usdt',
  'on_perf_event',
];

/** Opens probes.bpf.o and loads it, counting only this process unless told otherwise. */
export function loadProbes(config: Config = {}): BpfObject {
  const spec = ObjectSpec.fromFile(PROBES);
  try {
    spec.setConfig({ targ_tgid: process.pid, ...config });
    return spec.load();
  } catch (err) {
    spec.close();
    throw err;
  }
}

let sink = 0;
/** Makes this process call getppid() exactly `n` times (Node calls it on every read of process.ppid). */
export function getppid(n: number): void {
  let s = 0;
  for (let i = 0; i < n; i++) s += process.ppid;
  sink ^= s;
}

/** The error `fn` throws (fails the test when it does not throw). */
export function thrown(fn: () => unknown): Error & { code?: string; kind?: string; log?: string } {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error(`expected ${fn.toString()} to throw`);
}

/** The name of this thread, as bpf_get_current_comm() reports it. */
export function threadComm(): string {
  return readFileSync('/proc/thread-self/comm', 'utf8').trimEnd();
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` until it holds or `timeoutMs` passes; returns whether it held. */
export async function waitFor(cond: () => boolean, timeoutMs = 2000, stepMs = 5): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (cond()) return true;
    if (Date.now() > end) return false;
    await sleep(stepMs);
  }
}

/** Keeps this thread busy for `ms` milliseconds. */
export function burnCpu(ms: number): number {
  const end = Date.now() + ms;
  let x = 0;
  while (Date.now() < end) for (let i = 0; i < 10000; i++) x = (x * 31 + i) | 0;
  return x;
}

// ---- what the process holds ---------------------------------------------------

export interface BpfFd {
  fd: number;
  kind: 'prog' | 'link' | 'map' | 'btf';
  /** prog_id, link_id or map_id from fdinfo. */
  id: number;
}

/**
 * BPF fds of this process. The kernel names them anon_inode:bpf-prog,
 * anon_inode:bpf-map, anon_inode:btf and anon_inode:bpf_link (underscore).
 */
export function bpfFds(pid: number | 'self' = 'self'): BpfFd[] {
  const out: BpfFd[] = [];
  for (const name of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    let info: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${name}`);
      info = readFileSync(`/proc/${pid}/fdinfo/${name}`, 'utf8');
    } catch {
      continue; // closed meanwhile (readdir's own fd)
    }
    const m = target.match(/^anon_inode:(?:bpf[-_](prog|link|map)|(btf))$/);
    if (!m) continue;
    const kind = (m[1] ?? m[2]) as BpfFd['kind'];
    const id = info.match(new RegExp(`^${kind}_id:\\s*(\\d+)`, 'm'));
    out.push({ fd: Number(name), kind, id: id ? Number(id[1]) : -1 });
  }
  return out;
}

/** Open perf event fds of this process (perf buffers, perf_event links, tracepoint and uprobe links). */
export function perfEventFds(): number {
  let n = 0;
  for (const name of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${name}`) === 'anon_inode:[perf_event]') n++;
    } catch {
      // gone
    }
  }
  return n;
}

/** Memory mappings of BPF maps (global sections, ring buffers) in this process. */
export function bpfMappings(): string[] {
  return readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((l) => l.includes('anon_inode:bpf'));
}

// ---- what the kernel holds ------------------------------------------------------

export interface KernelProg {
  id: number;
  name?: string;
  type: string;
}
export interface KernelLink {
  id: number;
  prog_id: number;
  type: string;
}

export function kernelProgs(): KernelProg[] {
  return JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8' })) as KernelProg[];
}

export function kernelLinks(): KernelLink[] {
  return JSON.parse(execFileSync('bpftool', ['-j', 'link', 'show'], { encoding: 'utf8' })) as KernelLink[];
}

/** Which of these program and link ids the kernel still lists. */
export function stillLoaded(ids: { prog: number[]; link: number[] }): { prog: number[]; link: number[] } {
  const progs = new Set(kernelProgs().map((p) => p.id));
  const links = new Set(kernelLinks().map((l) => l.id));
  return { prog: ids.prog.filter((id) => progs.has(id)), link: ids.link.filter((id) => links.has(id)) };
}

/** Polls bpftool until none of the ids is listed (the kernel may free them asynchronously). */
export async function waitUnloaded(ids: { prog: number[]; link: number[] }, timeoutMs = 2500): Promise<{ prog: number[]; link: number[] }> {
  let left = stillLoaded(ids);
  const end = Date.now() + timeoutMs;
  while ((left.prog.length || left.link.length) && Date.now() < end) {
    await sleep(50);
    left = stillLoaded(ids);
  }
  return left;
}

// ---- CPU affinity -----------------------------------------------------------------

/**
 * Runs `fn` with the calling thread pinned to one CPU, so every event it
 * causes lands in that CPU's perf buffer. Restores the affinity afterwards.
 */
export async function onOneCpu<T>(cpu: number, fn: () => Promise<T>): Promise<T> {
  const tid = readlinkSync('/proc/thread-self').split('/').pop()!;
  const before = readFileSync(`/proc/thread-self/status`, 'utf8').match(/^Cpus_allowed_list:\s*(\S+)/m)![1]!;
  execFileSync('taskset', ['-p', '-c', String(cpu), tid], { stdio: 'ignore' });
  try {
    return await fn();
  } finally {
    execFileSync('taskset', ['-p', '-c', before, tid], { stdio: 'ignore' });
  }
}

// ---- temp dirs and the C workload -------------------------------------------------

export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * The workload for uprobes and USDT: `workload CALLS [GETPPIDS]` prints
 * "ready", then for each line on stdin calls ebpftest_work(i) for i = 1..CALLS
 * (each call preceded by the USDT probe ebpftest:tick with argument i), makes
 * GETPPIDS getppid() system calls, and prints "done <sum of the results>".
 */
export const WORKLOAD_C = `
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/sdt.h>

__attribute__((noipa)) int ebpftest_work(int i)
{
	__asm__ volatile("" ::: "memory");
	return 2 * i;
}

int main(int argc, char **argv)
{
	int calls = atoi(argv[1]);
	int getppids = argc > 2 ? atoi(argv[2]) : 0;
	char line[64];

	setvbuf(stdout, NULL, _IOLBF, 0);
	puts("ready");
	while (fgets(line, sizeof(line), stdin)) {
		long sum = 0;
		for (int i = 1; i <= calls; i++) {
			DTRACE_PROBE1(ebpftest, tick, i);
			sum += ebpftest_work(i);
		}
		for (int i = 0; i < getppids; i++)
			syscall(SYS_getppid);
		printf("done %ld\\n", sum);
	}
	return 0;
}
`;

/** Compiles the workload into `dir`; returns the binary's path. */
export function buildWorkload(dir: string): string {
  const src = join(dir, 'workload.c');
  const bin = join(dir, 'workload');
  writeFileSync(src, WORKLOAD_C);
  execFileSync('gcc', ['-O2', '-Wall', '-o', bin, src], { stdio: ['ignore', 'ignore', 'pipe'] });
  return bin;
}

/** A running workload, driven one round at a time. */
export class Workload {
  readonly child: ChildProcessWithoutNullStreams;
  #lines: string[] = [];
  #waiters: Array<() => void> = [];
  #exited: Promise<void>;

  private constructor(bin: string, args: string[]) {
    this.child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    createInterface({ input: this.child.stdout }).on('line', (l) => {
      this.#lines.push(l);
      for (const w of this.#waiters.splice(0)) w();
    });
    this.#exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
  }

  static async start(bin: string, calls: number, getppids = 0): Promise<Workload> {
    const w = new Workload(bin, [String(calls), String(getppids)]);
    const first = await w.#line(5000);
    if (first !== 'ready') throw new Error(`workload said ${first}`);
    return w;
  }

  get pid(): number {
    return this.child.pid!;
  }

  #line(timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('workload: no output')), timeoutMs);
      const take = () => {
        if (this.#lines.length) {
          clearTimeout(timer);
          resolve(this.#lines.shift()!);
        } else {
          this.#waiters.push(take);
        }
      };
      take();
    });
  }

  /** Runs one round; returns the sum it printed. */
  async round(): Promise<number> {
    this.child.stdin.write('go\n');
    const line = await this.#line(5000);
    const m = line.match(/^done (\d+)$/);
    if (!m) throw new Error(`workload said ${line}`);
    return Number(m[1]);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.stdin.end();
      const t = setTimeout(() => this.child.kill('SIGKILL'), 2000);
      await this.#exited;
      clearTimeout(t);
    }
  }
}
