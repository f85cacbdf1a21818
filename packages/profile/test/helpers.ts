// Shared by the profile tests: the workloads (a C spinner, a Node app run
// with --perf-basic-prof), and how much CPU they have used. (Not a test file.)
import { readFileSync } from 'node:fs';
import type { ProfileStack, Report } from '../src/index.js';
import { Child, compileC } from '../../../test/support/workload.js';

export const HOT_C = 'profile_test_hot';
export const HOT_JS = 'zzProfileHotJavaScript';

export function buildSpinner(): string {
  return compileC(new URL('./c/spinner.c', import.meta.url), { flags: ['-O0', '-g', '-Werror', '-fno-omit-frame-pointer'] });
}

/** Starts a workload and waits for its "ready". */
export async function started(file: string, args: string[] = []): Promise<Child> {
  const c = new Child(file, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const l = await c.next();
  if (l !== 'ready') throw new Error(`${file} said ${l}`);
  return c;
}

export const startSpinner = (bin: string) => started(bin);
export const startNode = () => started(process.execPath, ['--perf-basic-prof', new URL('./hot.js', import.meta.url).pathname]);

/** CPU ticks (user + system, 1/100 s) a process has used. */
export function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]!.split(' ');
  return Number(f[11]) + Number(f[12]);
}

/** Stacks of `r` whose user frames have a name matching `fn`. */
export function stacksWith(r: Report, fn: string | RegExp, pid?: number): ProfileStack[] {
  const m = (n?: string) => (typeof fn === 'string' ? n === fn : !!n && fn.test(n));
  return r.stacks.filter((s) => (pid === undefined || s.pid === pid) && s.userFrames?.some((f) => m(f.name)));
}

export const samplesIn = (ss: ProfileStack[]) => ss.reduce((t, s) => t + s.count, 0);
