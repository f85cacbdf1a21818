// One JSON convention for every tool (packages/core/README.md, "JSON"): each
// CLI's --json, run briefly against a workload, prints lines that all follow
// it: `time` (ISO 8601 UTC) and `elapsed` (seconds, a number) first, every
// key camelCase, an event's `timestamp` a decimal string. And the typed
// API's events go through plain JSON.stringify(), 64-bit values exact.
// The tools' dist/ must be built (npm run build in each package).
import { spawnSync } from 'node:child_process';
import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Jvm, gcLoopClasses } from '../packages/javagc/test/helpers.js';
import { MemCgroup, buildHog, startHog } from '../packages/oomkill/test/helpers.js';
import { buildSynflood, startFlood, type Flood } from '../packages/tcpretrans/test/helpers.js';
import { tcpstates, type TcpStateChange } from '../packages/tcpstates/src/index.js';
import { execsnoop, type ExecEvent } from '../packages/execsnoop/src/index.js';
import { runqlat } from '../packages/runqlat/src/index.js';
import { tool } from './support/cli.js';
import { expectJsonLine } from './support/json.js';
import { tempDir, uniq, type TempDir } from './support/tmp.js';
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

/** An exec, an open, a process exit, a kill(), a disk write, a TCP session. */
async function poke(): Promise<void> {
  spawnSync('/bin/true');
  readFileSync('/etc/hostname');
  process.kill(process.pid, 0);
  const fd = openSync(join(tmp.dir, 'io'), 'w');
  writeSync(fd, Buffer.alloc(4096, 1));
  fsyncSync(fd);
  closeSync(fd);
  await tcpSession();
}

function tcpSession(): Promise<void> {
  return new Promise<void>((resolve) => {
    const c = connect(port, '127.0.0.1', () => c.end());
    c.on('close', () => resolve());
    c.on('error', () => resolve());
  });
}

async function oomKill(): Promise<void> {
  const cg = new MemCgroup();
  try {
    await startHog(hog, cg, 0);
    await until(() => cg.pids().length === 0, 'the hog OOM-killed');
  } finally {
    await cg.remove();
  }
}

async function retransmit(): Promise<void> {
  if (Date.now() - lastFlood < 1000) return;
  lastFlood = Date.now();
  floods.push(await startFlood(synflood, 4));
}

interface ToolCase {
  name: string;
  script: string;
  args: () => string[];
  poke?: () => Promise<unknown>;
  /** One line per event: each carries the API event's `timestamp`. */
  events?: boolean;
  /** Keys of these objects are data (module names), not field names. */
  keyed?: string[];
}

const TOOLS: ToolCase[] = [
  { name: 'execsnoop', script: 'execsnoop/dist/cli.js', args: () => [], events: true },
  { name: 'opensnoop', script: 'opensnoop/dist/cli.js', args: () => [], events: true },
  { name: 'exitsnoop', script: 'exitsnoop/dist/cli.js', args: () => [], events: true },
  { name: 'sigsnoop', script: 'sigsnoop/dist/cli.js', args: () => [], events: true },
  { name: 'killsnoop', script: 'sigsnoop/dist/killsnoop.js', args: () => [], events: true },
  { name: 'tcplife', script: 'tcplife/dist/cli.js', args: () => [], events: true },
  { name: 'tcpstates', script: 'tcpstates/dist/cli.js', args: () => [], events: true },
  { name: 'tcpconnlat', script: 'tcpconnlat/dist/cli.js', args: () => [], events: true },
  { name: 'tcpretrans', script: 'tcpretrans/dist/cli.js', args: () => [], poke: retransmit, events: true },
  { name: 'biosnoop', script: 'biosnoop/dist/cli.js', args: () => [], events: true },
  { name: 'oomkill', script: 'oomkill/dist/cli.js', args: () => [], poke: oomKill, events: true },
  { name: 'javagc', script: 'javagc/dist/cli.js', args: () => [String(jvm.pid)], poke: () => jvm.round(), events: true },
  { name: 'memleak', script: 'memleak/dist/cli.js', args: () => ['1'] },
  { name: 'biolatency', script: 'biolatency/dist/cli.js', args: () => ['1'] },
  { name: 'runqlat', script: 'runqlat/dist/cli.js', args: () => ['1'] },
  { name: 'hardirqs', script: 'hardirqs/dist/cli.js', args: () => ['1'] },
  { name: 'softirqs', script: 'softirqs/dist/cli.js', args: () => ['1'] },
  { name: 'syscount', script: 'syscount/dist/cli.js', args: () => ['-i', '1'] },
  { name: 'offcputime', script: 'offcputime/dist/cli.js', args: () => ['1'] },
  { name: 'profile', script: 'profile/dist/cli.js', args: () => ['1'], keyed: ['unnamed'] },
];

beforeAll(async () => {
  tmp = tempDir('ebpf-test-json-');
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

describe('every CLI --json follows the convention', () => {
  for (const t of TOOLS) {
    it(`${t.name} --json`, async () => {
      const cli = tool(script(t.script)).spawn(['--json', ...t.args()]);
      // Something to print: poke until a line is out (or the run ended by itself).
      const deadline = Date.now() + DEADLINE.start;
      while (!cli.stdout.includes('\n') && cli.proc.exitCode === null && Date.now() < deadline) {
        await (t.poke ?? poke)();
        await sleep(50);
      }
      const e = await cli.stop('SIGINT');
      expect([e.code, e.signal], e.stderr).toEqual([0, null]);
      // System-wide tools print a lot on a busy machine: the first 100 lines.
      const lines = e.stdout.split('\n', 101).slice(0, 100).filter(Boolean);
      expect(lines.length, e.stderr).toBeGreaterThan(0);
      for (const line of lines) {
        const o = expectJsonLine(line, { keyed: t.keyed });
        if (t.events) expect(o.timestamp, line).toMatch(/^\d+$/);
      }
    }, 60_000);
  }
});

describe('the typed API: plain JSON.stringify, 64-bit values exact', () => {
  it('tcpstates events (a kernel address past 2^53) and execsnoop events round-trip through JSON', async () => {
    const states = tcpstates();
    const execs = execsnoop();
    try {
      const changes: TcpStateChange[] = [];
      const run: ExecEvent[] = [];
      states.subscribe((evs) => changes.push(...evs.filter((c) => c.rport === port || c.lport === port)));
      const marker = uniq('json');
      execs.subscribe((evs) => run.push(...evs.filter((ev) => ev.args.includes(marker))));
      await until(async () => {
        await tcpSession();
        spawnSync('/bin/true', [marker]);
        return changes.length > 0 && run.length > 0;
      }, 'a state change on our port and our exec', DEADLINE.output, 100);
      for (const ev of [changes[0]!, run[0]!]) {
        const text = JSON.stringify(ev); // no "Do not know how to serialize a BigInt"
        const back = JSON.parse(text);
        expect(Object.keys(back)).toEqual(Object.keys(ev).filter((k) => (ev as unknown as Record<string, unknown>)[k] !== undefined));
        expect(typeof back.timestamp).toBe('string');
        expect(BigInt(back.timestamp)).toBe(ev.timestamp);
      }
      const c = changes[0]!;
      expect(c.skaddr).toBeGreaterThan(2n ** 53n); // a kernel address: a Number would round it
      const back = JSON.parse(JSON.stringify(c));
      expect(BigInt(back.skaddr)).toBe(c.skaddr);
      expect({ ...back, timestamp: BigInt(back.timestamp), skaddr: BigInt(back.skaddr) }).toEqual({ ...c });
      // The same fields as the CLI's line carries after time and elapsed.
      const r = run[0]!;
      expect(JSON.parse(JSON.stringify(r))).toEqual({ ...r, timestamp: String(r.timestamp) });
    } finally {
      states.close();
      execs.close();
    }
  }, 60_000);

  it('a periodic tool\'s snapshot (runqlat): plain JSON.stringify, its period exact, its time ISO', async () => {
    const h = runqlat();
    try {
      spawnSync('/bin/true'); // a task woken, so that there is a histogram
      const snap = h.snapshot();
      const back = JSON.parse(JSON.stringify(snap));
      expect(BigInt(back.startNs)).toBe(snap.startNs);
      expect(BigInt(back.endNs)).toBe(snap.endNs);
      expect(back.time).toBe(snap.time.toISOString());
      expect(back.histograms).toHaveLength(snap.histograms.length);
    } finally {
      h.close();
    }
  }, 60_000);
});
