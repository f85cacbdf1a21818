// Shared by the offcputime tests: the C workload (built once per test
// process) driven through stdin, and lookups in reports. (Not a test file.)
import { expect } from 'vitest';
import type { OffcpuStack, Report } from '../src/index.js';
import { Child, compileC } from '../../../test/support/workload.js';

/** test/c/sleeper.c, with frame pointers and no optimization (its user stacks walk). */
export function buildSleeper(): string {
  return compileC(new URL('./c/sleeper.c', import.meta.url), { flags: ['-O0', '-g', '-Werror', '-fno-omit-frame-pointer', '-pthread'] });
}

/** A running sleeper: its pid, its background thread, and commands that resolve when it is done. */
export class Sleeper {
  static readonly all: Sleeper[] = [];
  private constructor(
    readonly child: Child,
    /** The "sleeper-bg" thread. */
    readonly bgTid: number,
  ) {}

  static async start(bin: string): Promise<Sleeper> {
    const child = new Child(bin, [], { stdio: ['pipe', 'pipe', 'inherit'] });
    const m = /^ready (\d+)$/.exec(await child.next());
    if (!m) throw new Error(`sleeper did not start: ${child.stdout}`);
    const s = new Sleeper(child, Number(m[1]));
    Sleeper.all.push(s);
    return s;
  }

  get pid(): number {
    return this.child.pid;
  }

  /**
   * offcputime_test_sleep(n, ms): resolves with the wall milliseconds from
   * the request to the answer, an upper bound of the time it spent in there.
   */
  async sleep(n: number, ms: number): Promise<number> {
    const t0 = process.hrtime.bigint();
    await this.#command(`sleep ${n} ${ms}`);
    return Number(process.hrtime.bigint() - t0) / 1e6;
  }

  spin(ms: number): Promise<void> {
    return this.#command(`spin ${ms}`);
  }

  async #command(c: string): Promise<void> {
    const l = await this.child.request(c);
    if (l !== 'done') throw new Error(`sleeper said ${l}`);
  }

  static async stopAll(): Promise<void> {
    for (const s of Sleeper.all.splice(0)) await s.child.stop();
  }
}

/** The stacks whose user frames name `fn`. */
export function stacksOf(r: Report, fn: string): OffcpuStack[] {
  return r.stacks.filter((s) => s.userFrames?.some((f) => f.name === fn));
}

/** Their total off-CPU time, in milliseconds. */
export function msIn(r: Report, fn: string): number {
  return stacksOf(r, fn).reduce((t, s) => t + s.totalNs, 0) / 1e6;
}

/**
 * What N sleeps of MS took off-CPU, bounded: never less than asked (a
 * nanosleep does not end early; the clock for its deadline is read a few
 * microseconds before the thread leaves the CPU, hence the 1 ms allowance
 * over ten sleeps), never more than the wall time the request took.
 */
export function expectSlept(ms: number, asked: number, wallMs: number): void {
  expect(ms).toBeGreaterThanOrEqual(asked - 1);
  expect(ms).toBeLessThanOrEqual(wallMs);
}
