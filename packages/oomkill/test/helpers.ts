// The oomkill tests' workloads: a memory cgroup (v1) the test creates with a
// small limit and removes, and oomhog processes moved into it *before* they
// allocate, so every OOM kill a test causes is that cgroup's, never the
// machine's. (Not a test file.)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { uniq } from '../../../test/support/tmp.js';
import { until } from '../../../test/support/wait.js';
import { compileC, start, type Child } from '../../../test/support/workload.js';

/** The page size (the kernel's unit for the memory counters). */
export const PAGE = Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }));
export const MIB = 1024 * 1024;
/** The test cgroup's limit: small, so a kill comes fast and costs the machine nothing. */
export const LIMIT = 32 * MIB;

/** Where the cgroup v1 memory controller is mounted (from /proc/mounts). */
export function memoryMount(): string {
  for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
    const [, dir, type, opts] = line.split(' ');
    if (type === 'cgroup' && opts!.split(',').includes('memory')) return dir!;
  }
  throw new Error('no cgroup v1 memory controller mounted (the oomkill tests need one for their memory-limited cgroup)');
}

/** A memory cgroup of `limit` bytes, no swap, OOM killer enabled. */
export class MemCgroup {
  static readonly live = new Set<MemCgroup>();
  readonly dir: string;
  readonly name: string;

  constructor(limit = LIMIT) {
    this.name = uniq('ebpf-oomkill');
    this.dir = join(memoryMount(), this.name);
    mkdirSync(this.dir);
    MemCgroup.live.add(this);
    this.#set('memory.limit_in_bytes', limit);
    // No swap to escape to (the machine has none, but say so): memsw is RAM + swap.
    if (existsSync(join(this.dir, 'memory.memsw.limit_in_bytes'))) this.#set('memory.memsw.limit_in_bytes', limit);
    this.#set('memory.swappiness', 0);
    this.#set('memory.oom_control', 0); // oom_kill_disable 0: kill, do not pause
  }

  #set(file: string, value: number): void {
    writeFileSync(join(this.dir, file), `${value}\n`);
  }

  /** Moves `pid` in, and checks that it is in. */
  add(pid: number): void {
    writeFileSync(join(this.dir, 'cgroup.procs'), `${pid}\n`);
    const inside = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').some((l) => (l.split(':')[1] ?? '').split(',').includes('memory') && l.endsWith(`:/${this.name}`));
    if (!inside) throw new Error(`pid ${pid} is not in ${this.dir}`);
  }

  pids(): number[] {
    return readFileSync(join(this.dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  }

  /** Kills whatever is left inside, waits until it is empty, removes it. */
  async remove(): Promise<void> {
    for (const pid of this.pids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone already */
      }
    }
    await until(() => this.pids().length === 0, `${this.dir} empty`);
    rmdirSync(this.dir);
    MemCgroup.live.delete(this);
  }

  static async removeAll(): Promise<void> {
    for (const c of [...MemCgroup.live]) await c.remove();
  }
}

/** Builds oomhog under the name `comm` (its comm). */
export function buildHog(comm = 'oomhog'): string {
  return compileC(new URL('./c/oomhog.c', import.meta.url), { name: comm, flags: ['-pthread'] });
}

export interface HogOptions {
  /** Its oom_score_adj, set before it allocates (raising it needs no privilege). */
  oomScoreAdj?: number;
  /** Allocate in a second thread of this name. */
  thread?: string;
}

/**
 * Starts an oomhog, moves it into `cg`, then tells it to allocate `mib` MiB
 * (0: until killed).
 */
export async function startHog(bin: string, cg: MemCgroup, mib: number, { oomScoreAdj, thread }: HogOptions = {}): Promise<Child> {
  const hog = start(bin, [String(mib), ...(thread ? [thread] : [])], { stdio: ['pipe', 'pipe', 'inherit'] });
  await hog.expectNext('ready');
  cg.add(hog.pid);
  if (oomScoreAdj !== undefined) writeFileSync(`/proc/${hog.pid}/oom_score_adj`, `${oomScoreAdj}\n`);
  hog.write('go\n');
  return hog;
}

/** What the kernel logged for the kill of `pid`: its "Killed process" line's numbers. */
export interface KernelKill {
  comm: string;
  totalVmKb: number;
  anonRssKb: number;
  fileRssKb: number;
  shmemRssKb: number;
  uid: number;
  pgtablesKb: number;
  oomScoreAdj: number;
}

/** The kernel log's "Killed process PID (comm) total-vm:...kB, ..." line for `pid`, once it is there. */
export async function kernelKill(pid: number): Promise<KernelKill> {
  const re = new RegExp(
    `Killed process ${pid} \\((.*)\\) total-vm:(\\d+)kB, anon-rss:(\\d+)kB, file-rss:(\\d+)kB, shmem-rss:(\\d+)kB, UID:(\\d+) pgtables:(\\d+)kB oom_score_adj:(-?\\d+)`,
  );
  let m: RegExpMatchArray | null = null;
  await until(() => (m = execFileSync('dmesg', [], { encoding: 'utf8', maxBuffer: 64 * MIB }).match(re)) !== null, `the kernel's "Killed process ${pid}" line`);
  const [, comm, ...n] = m!;
  const [totalVmKb, anonRssKb, fileRssKb, shmemRssKb, uid, pgtablesKb, oomScoreAdj] = n.map(Number) as [number, number, number, number, number, number, number];
  return { comm: comm!, totalVmKb, anonRssKb, fileRssKb, shmemRssKb, uid, pgtablesKb, oomScoreAdj };
}

/** /proc/loadavg's shape: three averages, running/total tasks, the last PID. */
export const LOADAVG = /^\d+\.\d\d \d+\.\d\d \d+\.\d\d \d+\/\d+ \d+$/;
