// Shared by the memleak tests: the C workloads (built once per test
// process), a workload driven through stdin, and BCC's report text parsed
// back. The CLI as a child process comes from test/support.
import type { Report, StackReport } from '../src/index.js';
import { compileC, Child } from '../../../test/support/workload.js';

/** Builds the workloads with -g -Werror -fno-omit-frame-pointer (frame-pointer stacks, symbols). */
export function buildWorkloads(): { workload: string; startleak: string } {
  const build = (name: string, extra: string[] = []) =>
    compileC(new URL(`./c/${name}.c`, import.meta.url), { flags: ['-g', '-Werror', '-fno-omit-frame-pointer', ...extra] });
  return { workload: build('workload', ['-pthread']), startleak: build('startleak') };
}

/**
 * test/c/workload.c: prints "ready", allocates when told (go()), prints
 * "done", exits when stdin closes (stop()).
 */
export class Workload {
  private constructor(readonly child: Child) {}

  static async start(bin: string, mode: string, leaks: number, size: number, tidy = 0): Promise<Workload> {
    const child = new Child(bin, [mode, String(leaks), String(size), String(tidy)], { stdio: ['pipe', 'pipe', 'inherit'] });
    await child.expectNext('ready');
    return new Workload(child);
  }

  get pid(): number {
    return this.child.pid;
  }

  /** Lets it allocate; resolves when it is done. */
  async go(): Promise<void> {
    const l = await this.child.request('go');
    if (l !== 'done') throw new Error(`workload said ${l}`);
  }

  stop(): Promise<void> {
    return this.child.stop();
  }
}

/** The stacks whose frames name `fn`. */
export function stacksOf(r: Report, fn: string): StackReport[] {
  return r.stacks.filter((s) => s.frames.some((f) => f.name === fn));
}

/** One report of BCC's text format, parsed back: the stacks with their frame lines. */
export interface TextStack {
  bytes: number;
  allocations: number;
  frames: string[];
}
export interface TextReport {
  header: string;
  shown: number;
  addrs: string[];
  stacks: TextStack[];
}

/** Splits CLI output into its reports (the lines from one "[HH:MM:SS] Top" header to the next). */
export function parseReports(stdout: string): TextReport[] {
  const out: TextReport[] = [];
  let cur: TextReport | undefined;
  for (const line of stdout.split('\n')) {
    const h = line.match(/^\[\d\d:\d\d:\d\d\] Top (\d+) stacks with outstanding allocations:$/);
    if (h) {
      cur = { header: line, shown: Number(h[1]), addrs: [], stacks: [] };
      out.push(cur);
      continue;
    }
    if (!cur) continue;
    const a = line.match(/^\taddr = ([0-9a-f]+) size = (\d+)$/);
    const s = line.match(/^\t(\d+) bytes in (\d+) allocations from stack$/);
    if (a) cur.addrs.push(line);
    else if (s) cur.stacks.push({ bytes: Number(s[1]), allocations: Number(s[2]), frames: [] });
    else if (line.startsWith('\t\t') && cur.stacks.length) cur.stacks[cur.stacks.length - 1]!.frames.push(line);
    else if (line !== '') cur = undefined;
  }
  return out;
}
