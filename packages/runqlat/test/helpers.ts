// Shared by the runqlat tests: the workload (test/c/rqwork.c) and the
// kernel's own count of each thread's run-queue waits. (Not a test file.)
//
// Why the counts can be compared exactly: the scheduler bumps a thread's
// nvcsw or nivcsw (/proc/PID/task/TID/status: voluntary_ctxt_switches and
// nonvoluntary_ctxt_switches) at every sched_switch that switches it out,
// and a thread switched out is switched in again only after it waited on a
// run queue (woken, preempted or new). So once a thread is off its CPU,
// blocked, its switch-ins equal its switch-outs, and every switch-in since
// runqlat attached ended one wait that runqlat counts, provided the thread
// did not run (or was asleep) when it attached.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { Child, compileC } from '../../../test/support/workload.js';
import { until } from '../../../test/support/wait.js';

export function buildRqwork(): string {
  return compileC(new URL('./c/rqwork.c', import.meta.url), { flags: ['-Werror', '-pthread'] });
}

/** A running rqwork and its commands. */
export class Rqwork {
  static readonly all: Rqwork[] = [];
  private constructor(readonly child: Child) {}

  static async start(bin: string, wrap: string[] = []): Promise<Rqwork> {
    const [file, ...args] = [...wrap, bin];
    const child = new Child(file!, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    const w = new Rqwork(child);
    Rqwork.all.push(w);
    await child.expectNext('ready');
    return w;
  }

  /** The PID of the process started (with a wrap such as unshare, that program's). */
  get pid(): number {
    return this.child.pid;
  }

  /**
   * `pingpong N`: the two new threads' TIDs [rq-ping, rq-pong], once both
   * are blocked for good. `pid`: the process, if not the one started (unshare's child).
   */
  pingpong(n: number, pid = this.pid): Promise<[number, number]> {
    return this.#command(`pingpong ${n}`, pid);
  }

  /** `delay N MS`: [rq-hog, rq-woken], once both are blocked for good. */
  delay(n: number, ms: number, pid = this.pid): Promise<[number, number]> {
    return this.#command(`delay ${n} ${ms}`, pid);
  }

  async #command(c: string, pid: number): Promise<[number, number]> {
    const m = /^done (\d+) (\d+)$/.exec(await this.child.request(c));
    if (!m) throw new Error(`rqwork said ${this.child.stdout}`);
    const tids: [number, number] = [Number(m[1]), Number(m[2])];
    // In another PID namespace, they are that namespace's numbers: wait on every thread instead.
    if (pid === this.pid) for (const t of tids) await offCpu(pid, t);
    else await threadsOffCpu(pid);
    return tids;
  }

  static async stopAll(): Promise<void> {
    for (const w of Rqwork.all.splice(0)) await w.child.stop();
  }
}

/**
 * Waits until the thread is off its CPU and blocked. /proc/PID/task/TID/syscall
 * says "running" unless the kernel saw the task inactive (wait_task_inactive:
 * really switched out, not just in a sleeping state on its way out).
 */
export async function offCpu(pid: number, tid: number): Promise<void> {
  await until(() => !readFileSync(`/proc/${pid}/task/${tid}/syscall`, 'utf8').startsWith('running'), `thread ${tid} of ${pid} off its CPU`);
}

/** Times the thread was switched out: nvcsw + nivcsw. */
export function switches(pid: number, tid: number): number {
  const s = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
  return Number(/^voluntary_ctxt_switches:\s+(\d+)$/m.exec(s)![1]) + Number(/^nonvoluntary_ctxt_switches:\s+(\d+)$/m.exec(s)![1]);
}

/** Every thread of the process, each once off its CPU. */
export async function threadsOffCpu(pid: number): Promise<number[]> {
  const tids = readdirSync(`/proc/${pid}/task`).map(Number);
  for (const t of tids) await offCpu(pid, t);
  return tids;
}

/** The process's switches: the sum over its threads (all off CPU). */
export async function processSwitches(pid: number): Promise<number> {
  return (await threadsOffCpu(pid)).reduce((a, t) => a + switches(pid, t), 0);
}

/** The only child of `pid` (the program an unshare --fork started). */
export async function onlyChild(pid: number): Promise<number> {
  let kids: string[] = [];
  await until(() => (kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ').filter(Boolean)).length === 1, `a child of ${pid}`);
  return Number(kids[0]);
}

/** The PID namespace's inode number, as /proc/PID/ns/pid links it. */
export function pidnsOf(pid: number): number {
  return Number(/^pid:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/ns/pid`))![1]);
}
