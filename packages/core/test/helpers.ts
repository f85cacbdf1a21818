// Shared by the core's integration tests: the compiled test objects, a way to
// make the test process call getppid() a known number of times, a small C
// workload for uprobes and USDT, and what the kernel holds (bpftool). What
// every package's tests share (waiting, temp dirs, BPF fd census, C builds,
// child processes) is in test/support, re-exported here for the core's tests.
import { execFileSync } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ObjectSpec, type BpfObject } from '../src/index.js';
import type { Config } from './bpf/probes.gen.js';
import { Child, compileC } from '../../../test/support/workload.js';
import { DEADLINE, sleep } from '../../../test/support/wait.js';

export { sleep, thrown, waitFor } from '../../../test/support/wait.js';
export { threadComm } from '../../../test/support/workload.js';
export { bpfFds, bpfMappings, perfEventFds, type BpfFd } from '../../../test/support/bpf.js';
export { tempDir, type TempDir } from '../../../test/support/tmp.js';

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

/** Keeps this thread busy for `ms` milliseconds. */
export function burnCpu(ms: number): number {
  const end = Date.now() + ms;
  let x = 0;
  while (Date.now() < end) for (let i = 0; i < 10000; i++) x = (x * 31 + i) | 0;
  return x;
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

// ---- the C workload ---------------------------------------------------------------

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

/** Compiles the workload (once per test process); returns the binary's path. */
export function buildWorkload(): string {
  return compileC({ name: 'workload', code: WORKLOAD_C }, { flags: ['-O2'] });
}

/** A running workload, driven one round at a time. */
export class Workload {
  private constructor(readonly child: Child) {}

  static async start(bin: string, calls: number, getppids = 0): Promise<Workload> {
    const child = new Child(bin, [String(calls), String(getppids)], { stdio: ['pipe', 'pipe', 'pipe'] });
    await child.expectNext('ready', DEADLINE.start);
    return new Workload(child);
  }

  get pid(): number {
    return this.child.pid;
  }

  /** Runs one round; returns the sum it printed. */
  async round(): Promise<number> {
    const line = await this.child.request('go');
    const m = line.match(/^done (\d+)$/);
    if (!m) throw new Error(`workload said ${line}`);
    return Number(m[1]);
  }

  /** Closes stdin (it exits), SIGKILL after 2 s. */
  stop(): Promise<void> {
    return this.child.stop(2000);
  }
}
