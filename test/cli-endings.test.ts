// How every tool's CLI ends when its output does, or at a signal, and that
// long timers last: one table over the tools, since all of them end through
// the kit's Session.
//   - a failed write (stdout on /dev/full: ENOSPC), in text and in --json:
//     exactly one line on stderr, exit 1, no stack trace;
//   - a closed pipe (| head): a quiet exit 0;
//   - SIGINT, SIGTERM, SIGHUP: exit 0, stderr empty, stdout ending in a
//     whole line;
//   - a duration or interval past Node's timer limit (2^31 - 1 ms, 24.8
//     days): the run goes on (such a timer used to fire after 1 ms).
// The tools' dist/ must be built (npm run build in each package).
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Jvm, gcLoopClasses } from '../packages/javagc/test/helpers.js';
import { MemCgroup, buildHog, startHog } from '../packages/oomkill/test/helpers.js';
import { buildSynflood, startFlood, type Flood } from '../packages/tcpretrans/test/helpers.js';
import { errorLine, throughHead, tool, type Exit } from './support/cli.js';
import { tempDir, type TempDir } from './support/tmp.js';
import { DEADLINE, sleep, until } from './support/wait.js';

const script = (path: string) => new URL(`../packages/${path}`, import.meta.url).pathname;

let tmp: TempDir;
let server: Server;
let port = 0;
let jvm: Jvm;
let hog: string;
let synflood: string;
const floods: Flood[] = [];
let lastFlood = 0;

/** Something for every tool to see: an exec, an open, a process exit, a kill(), a disk write, a TCP session. */
async function poke(): Promise<void> {
  spawnSync('/bin/true');
  readFileSync('/etc/hostname');
  process.kill(process.pid, 0);
  const fd = openSync(join(tmp.dir, 'io'), 'w');
  writeSync(fd, Buffer.alloc(4096, 1));
  fsyncSync(fd);
  closeSync(fd);
  await new Promise<void>((resolve) => {
    const c = connect(port, '127.0.0.1', () => c.end());
    c.on('close', () => resolve());
    c.on('error', () => resolve());
  });
}

/** An OOM kill: a hog in a memory cgroup of its own, killed there, the cgroup removed. */
async function oomKill(): Promise<void> {
  const cg = new MemCgroup();
  try {
    await startHog(hog, cg, 0);
    await until(() => cg.pids().length === 0, 'the hog OOM-killed');
  } finally {
    await cg.remove();
  }
}

/** A TCP retransmit: a SYN dropped by a full listener goes again after 1 s; a new one each second at most. */
async function retransmit(): Promise<void> {
  if (Date.now() - lastFlood < 1000) return;
  lastFlood = Date.now();
  floods.push(await startFlood(synflood, 4));
}

interface ToolCase {
  name: string;
  script: string;
  /** Arguments for a run that prints: an interval for the periodic tools, the JVM for javagc. */
  args: () => string[];
  /** What makes it print a row (default poke()). */
  poke?: () => Promise<unknown>;
  /**
   * Lines it may print on stderr after a report it wrote: warnings about the
   * data (BCC's lost-stacks line), not about how the run ended. A report
   * that did not get out (a failed write) is followed by none.
   */
  warnings?: RegExp;
}

/** stderr without the tool's warnings about its data. */
const endingLines = (t: ToolCase | undefined, stderr: string): string =>
  stderr
    .split('\n')
    .filter((l) => !t?.warnings?.test(l))
    .join('\n');

const TOOLS: ToolCase[] = [
  { name: 'execsnoop', script: 'execsnoop/dist/cli.js', args: () => [] },
  { name: 'opensnoop', script: 'opensnoop/dist/cli.js', args: () => [] },
  { name: 'exitsnoop', script: 'exitsnoop/dist/cli.js', args: () => [] },
  { name: 'sigsnoop', script: 'sigsnoop/dist/cli.js', args: () => [] },
  { name: 'killsnoop', script: 'sigsnoop/dist/killsnoop.js', args: () => [] },
  { name: 'biolatency', script: 'biolatency/dist/cli.js', args: () => ['1'] },
  { name: 'tcplife', script: 'tcplife/dist/cli.js', args: () => [] },
  { name: 'tcpstates', script: 'tcpstates/dist/cli.js', args: () => [] },
  { name: 'memleak', script: 'memleak/dist/cli.js', args: () => ['1'], warnings: /^memleak: \d+ allocations not tracked \(allocation table full\), / },
  { name: 'offcputime', script: 'offcputime/dist/cli.js', args: () => ['1'], warnings: /^WARNING: \d+ stack traces lost and could not be displayed\. / },
  { name: 'javagc', script: 'javagc/dist/cli.js', args: () => [String(jvm.pid)], poke: () => jvm.round() },
  { name: 'biosnoop', script: 'biosnoop/dist/cli.js', args: () => [] },
  { name: 'oomkill', script: 'oomkill/dist/cli.js', args: () => [], poke: oomKill },
  { name: 'tcpconnlat', script: 'tcpconnlat/dist/cli.js', args: () => [] },
  { name: 'tcpretrans', script: 'tcpretrans/dist/cli.js', args: () => [], poke: retransmit },
  { name: 'runqlat', script: 'runqlat/dist/cli.js', args: () => ['1'] },
  { name: 'hardirqs', script: 'hardirqs/dist/cli.js', args: () => ['1'] },
  { name: 'softirqs', script: 'softirqs/dist/cli.js', args: () => ['1'] },
  { name: 'syscount', script: 'syscount/dist/cli.js', args: () => ['-i', '1'] },
  {
    name: 'profile',
    script: 'profile/dist/cli.js',
    args: () => ['1'],
    warnings: /^(WARNING: \d+ stack traces could not be displayed\. |NOTE: \d+ samples ran through .* where no symbol covers them )/,
  },
];

beforeAll(async () => {
  tmp = tempDir('ebpf-test-endings-');
  server = createServer((s) => s.end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
  jvm = await Jvm.start(gcLoopClasses());
  hog = buildHog('oomhog');
  synflood = buildSynflood();
}, 60_000);

afterAll(async () => {
  await jvm?.stop();
  await Promise.all(floods.map((f) => f.proc.stop(0)));
  await MemCgroup.removeAll();
  server?.close();
  tmp?.cleanup();
});

/** Runs the CLI with stdout on /dev/full, poking until it ends. */
async function intoFullDisk(t: ToolCase, extra: string[]): Promise<Exit> {
  const full = openSync('/dev/full', 'w');
  const child = spawn(process.execPath, [script(t.script), ...extra, ...t.args()], { stdio: ['ignore', full, 'pipe'] });
  closeSync(full);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let exit: [number | null, NodeJS.Signals | null] | undefined;
  const ended = new Promise<void>((r) => child.on('close', (code, signal) => ((exit = [code, signal]), r())));
  const deadline = Date.now() + DEADLINE.start;
  try {
    while (!exit && Date.now() < deadline) {
      await (t.poke ?? poke)();
      await sleep(50);
    }
  } finally {
    if (!exit) child.kill('SIGKILL');
    await ended;
  }
  return { code: exit![0], signal: exit![1], stdout: '', stderr };
}

describe('a failed write: one line, exit 1', () => {
  for (const t of TOOLS) {
    for (const extra of [[], ['--json']]) {
      it(`${t.name} ${extra.join(' ')}>/dev/full`, async () => {
        const e = await intoFullDisk(t, extra);
        expect(errorLine(e, 1)).toBe(`${t.name}: cannot write output: ENOSPC: no space left on device, write`);
      }, 40_000);
    }
  }
});

describe('a closed pipe: a quiet exit 0', () => {
  for (const t of TOOLS) {
    it(`${t.name} | head -n 2`, async () => {
      const p = await throughHead(script(t.script), t.args(), t.poke ?? poke, { lines: 2 });
      expect(p.ended).toBe(true);
      expect([p.status, endingLines(t, p.stderr)]).toEqual([[0, null], '']); // pipefail: the CLI's own status
      expect(p.out.split('\n')).toHaveLength(3);
    }, 40_000);
  }
});

describe('a signal (Ctrl-C, kill, a closed terminal): exit 0, nothing on stderr, every line out whole', () => {
  for (const t of TOOLS) {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      it(`${t.name} ${signal}`, async () => {
        const cli = await tool(script(t.script)).start(t.args(), (out) => out.includes('\n'));
        // Something to print first: a row (or a report) beyond the header.
        const deadline = Date.now() + DEADLINE.start;
        while (cli.lines().length < 2 && cli.proc.exitCode === null && Date.now() < deadline) {
          await (t.poke ?? poke)();
          await sleep(50);
        }
        const e = await cli.stop(signal);
        expect([e.code, e.signal, endingLines(t, e.stderr)]).toEqual([0, null, '']);
        expect(e.stdout.endsWith('\n')).toBe(true);
      }, 40_000);
    }
  }
});

describe('durations and intervals past 2^31 - 1 ms last', () => {
  // 2147484 s is just over 2^31 ms: Node's setTimeout would fire it after
  // 1 ms. Each run must still be tracing, with nothing but its header printed
  // by an interval tool, seconds after it started. (The wait cannot make this
  // fail on a slow machine: a correct run has 24.8 days to go.)
  const LONG = '2147484';
  const runs: Array<[string, string, string[]]> = [
    ['opensnoop -d', 'opensnoop/dist/cli.js', ['-d', LONG]],
    ['biolatency interval', 'biolatency/dist/cli.js', [LONG]],
    ['memleak interval', 'memleak/dist/cli.js', [LONG]],
    ['offcputime duration', 'offcputime/dist/cli.js', [LONG]],
  ];
  for (const [label, path, args] of runs) {
    it(`${label} ${LONG}: still running after its start`, async () => {
      const cli = await tool(script(path)).start(args, (out) => out.includes('\n'));
      const header = cli.stdout;
      await poke();
      await sleep(3000);
      expect(cli.proc.exitCode).toBeNull();
      if (path !== 'opensnoop/dist/cli.js') expect(cli.stdout).toBe(header); // no report yet
      const e = await cli.stop('SIGINT');
      expect([e.code, e.signal, endingLines(TOOLS.find((t) => t.script === path), e.stderr)]).toEqual([0, null, '']);
    }, 40_000);
  }
});
