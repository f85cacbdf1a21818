// Every tool's CLI, and what makes each print: for tests that run one check
// over all of them (the JSON convention; how a CLI ends). (Not a test file.)
// The tools' dist/ must be built (npm run build in each package).
import { spawnSync } from 'node:child_process';
import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { join } from 'node:path';
import { Jvm, gcLoopClasses } from '../../packages/javagc/test/helpers.js';
import { MemCgroup, buildHog, startHog } from '../../packages/oomkill/test/helpers.js';
import { buildSynflood, startFlood, type Flood } from '../../packages/tcpretrans/test/helpers.js';
import { tempDir, type TempDir } from './tmp.js';
import { until } from './wait.js';

/** A tool's CLI script by its path under packages/. */
export const script = (path: string): string => new URL(`../../packages/${path}`, import.meta.url).pathname;

/** The workloads: a temp dir, a TCP server, a JVM, an OOM hog, a SYN flood. start() before use, stop() after. */
export class Workloads {
  tmp!: TempDir;
  server!: Server;
  port = 0;
  jvm!: Jvm;
  #hog = '';
  #synflood = '';
  readonly #floods: Flood[] = [];
  #lastFlood = 0;

  static async start(prefix: string): Promise<Workloads> {
    const w = new Workloads();
    w.tmp = tempDir(prefix);
    w.server = createServer((s) => s.end());
    await new Promise<void>((r) => w.server.listen(0, '127.0.0.1', r));
    w.port = (w.server.address() as { port: number }).port;
    w.jvm = await Jvm.start(gcLoopClasses());
    w.#hog = buildHog('oomhog');
    w.#synflood = buildSynflood();
    return w;
  }

  async stop(): Promise<void> {
    await this.jvm?.stop();
    await Promise.all(this.#floods.map((f) => f.proc.stop(0)));
    await MemCgroup.removeAll();
    this.server?.close();
    this.tmp?.cleanup();
  }

  /** Something for every tool to see: an exec, an open, a process exit, a kill(), a disk write, a TCP session. */
  readonly poke = async (): Promise<void> => {
    spawnSync('/bin/true');
    readFileSync('/etc/hostname');
    process.kill(process.pid, 0);
    const fd = openSync(join(this.tmp.dir, 'io'), 'w');
    writeSync(fd, Buffer.alloc(4096, 1));
    fsyncSync(fd);
    closeSync(fd);
    await this.tcpSession();
  };

  /** One TCP session to the server, closed by the client. */
  tcpSession(): Promise<void> {
    return new Promise<void>((resolve) => {
      const c = connect(this.port, '127.0.0.1', () => c.end());
      c.on('close', () => resolve());
      c.on('error', () => resolve());
    });
  }

  /** An OOM kill: a hog in a memory cgroup of its own, killed there, the cgroup removed. */
  readonly oomKill = async (): Promise<void> => {
    const cg = new MemCgroup();
    try {
      await startHog(this.#hog, cg, 0);
      await until(() => cg.pids().length === 0, 'the hog OOM-killed');
    } finally {
      await cg.remove();
    }
  };

  /** A TCP retransmit: a SYN dropped by a full listener goes again after 1 s; a new one each second at most. */
  readonly retransmit = async (): Promise<void> => {
    if (Date.now() - this.#lastFlood < 1000) return;
    this.#lastFlood = Date.now();
    this.#floods.push(await startFlood(this.#synflood, 4));
  };
}

export interface ToolRun {
  name: string;
  script: string;
  /** Arguments for a run that prints: an interval for the periodic tools, the JVM for javagc. */
  args: (w: Workloads) => string[];
  /** What makes it print (default w.poke). */
  poke?: (w: Workloads) => () => Promise<unknown>;
  /** One line per event (not per interval or report). */
  events?: boolean;
}

/** Every CLI, streaming tools first. */
export const EVERY_TOOL: ToolRun[] = [
  { name: 'execsnoop', script: 'execsnoop/dist/cli.js', args: () => [], events: true },
  { name: 'opensnoop', script: 'opensnoop/dist/cli.js', args: () => [], events: true },
  { name: 'exitsnoop', script: 'exitsnoop/dist/cli.js', args: () => [], events: true },
  { name: 'sigsnoop', script: 'sigsnoop/dist/cli.js', args: () => [], events: true },
  { name: 'killsnoop', script: 'sigsnoop/dist/killsnoop.js', args: () => [], events: true },
  { name: 'tcplife', script: 'tcplife/dist/cli.js', args: () => [], events: true },
  { name: 'tcpstates', script: 'tcpstates/dist/cli.js', args: () => [], events: true },
  { name: 'tcpconnlat', script: 'tcpconnlat/dist/cli.js', args: () => [], events: true },
  { name: 'tcpretrans', script: 'tcpretrans/dist/cli.js', args: () => [], poke: (w) => w.retransmit, events: true },
  { name: 'biosnoop', script: 'biosnoop/dist/cli.js', args: () => [], events: true },
  { name: 'oomkill', script: 'oomkill/dist/cli.js', args: () => [], poke: (w) => w.oomKill, events: true },
  { name: 'javagc', script: 'javagc/dist/cli.js', args: (w) => [String(w.jvm.pid)], poke: (w) => () => w.jvm.round(), events: true },
  { name: 'memleak', script: 'memleak/dist/cli.js', args: () => ['1'] },
  { name: 'biolatency', script: 'biolatency/dist/cli.js', args: () => ['1'] },
  { name: 'runqlat', script: 'runqlat/dist/cli.js', args: () => ['1'] },
  { name: 'hardirqs', script: 'hardirqs/dist/cli.js', args: () => ['1'] },
  { name: 'softirqs', script: 'softirqs/dist/cli.js', args: () => ['1'] },
  { name: 'syscount', script: 'syscount/dist/cli.js', args: () => ['-i', '1'] },
  { name: 'offcputime', script: 'offcputime/dist/cli.js', args: () => ['1'] },
  { name: 'profile', script: 'profile/dist/cli.js', args: () => ['1'] },
];
