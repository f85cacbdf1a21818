// Shared by the biosnoop tests: a loop device the test makes over a file in
// a temporary directory (never a real disk), and direct I/O on it whose
// every request is known (test/c/biodio.c prints each one it did).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../../test/support/tmp.js';
import { compileC, run } from '../../../test/support/workload.js';

/** The binary's name: the COMM of its rows. */
export const COMM = 'biodio';
const BIODIO = () => compileC(new URL('./c/biodio.c', import.meta.url));

/** A loop device of 16 MiB over a sparse file; cleanup() detaches it and removes the file. */
export interface Loop {
  /** /dev/loopN */
  path: string;
  /** loopN: the DISK column */
  disk: string;
  cleanup(): void;
}

/** One I/O biodio did. */
export interface Io {
  type: 'R' | 'W';
  sector: number;
  bytes: number;
}

/**
 * A new loop device (losetup --find) over a file in a temporary directory.
 * `scheduler` sets its I/O scheduler (its own sysfs queue: "none" by
 * default; "mq-deadline" queues requests and inserts them first).
 */
export function loopDevice(scheduler?: string): Loop {
  const tmp = tempDir('biosnoop-loop-', '/var/tmp');
  const backing = join(tmp.dir, 'backing');
  writeFileSync(backing, '');
  execFileSync('truncate', ['-s', '16M', backing]);
  let path: string;
  try {
    path = execFileSync('losetup', ['--find', '--show', backing], { encoding: 'utf8' }).trim();
  } catch (err) {
    tmp.cleanup();
    throw err;
  }
  const disk = path.replace(/^\/dev\//, '');
  const cleanup = () => {
    try {
      execFileSync('losetup', ['--detach', path]);
    } finally {
      tmp.cleanup();
    }
  };
  if (scheduler) {
    try {
      writeFileSync(`/sys/block/${disk}/queue/scheduler`, scheduler);
    } catch (err) {
      cleanup();
      throw err;
    }
  }
  return { path, disk, cleanup };
}

async function biodio(args: string[]): Promise<{ pid: number; ios: Io[] }> {
  const r = await run(BIODIO(), args);
  if (r.code !== 0) throw new Error(`biodio ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  const ios = r.stdout
    .trim()
    .split('\n')
    .map((l) => {
      const [type, sector, bytes] = l.split(' ');
      return { type: type as Io['type'], sector: Number(sector), bytes: Number(bytes) };
    });
  return { pid: r.pid, ios };
}

/** `writes` O_DIRECT writes then `reads` reads of 4 to 16 KiB, none adjacent to another: its pid and its I/Os, in order. */
export const dio = (l: Loop, writes: number, reads: number) => biodio([l.path, String(writes), String(reads)]);

/** `n` sequential O_DIRECT 4 KiB reads from sector 0. */
export const seqReads = (l: Loop, n: number) => biodio([l.path, 'seq', String(n)]);

/** `n` (up to 16) O_DIRECT 4 KiB reads in one io_submit: all n requests are made before the first is issued. */
export const aioReads = (l: Loop, n: number) => biodio([l.path, 'aio', String(n)]);

/** "W 4737 8192": what a test compares. */
export const ioKey = (x: { type: string; sector: number; bytes: number }): string => `${x.type} ${x.sector} ${x.bytes}`;
