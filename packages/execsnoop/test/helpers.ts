// Shared by the execsnoop tests: a tracer that collects events, and execs
// that fail before a process exists. Workloads, temp dirs and the CLI come
// from test/support.
import { spawn } from 'node:child_process';
import { execsnoop, type ExecEvent, type ExecsnoopOptions, type Tracer } from '../src/index.js';
import { collect, type Capture as EventCapture } from '../../../test/support/events.js';
import { cgroupIdOf } from '../../../test/support/container.js';

/** A running tracer and every event it has delivered so far. */
export type Capture = EventCapture<ExecEvent, Tracer<ExecEvent>>;

export function capture(opts: ExecsnoopOptions = {}): Capture {
  return collect<ExecEvent, Tracer<ExecEvent>>(execsnoop(opts));
}

/** Spawns a path that does not exist; resolves once spawn has reported ENOENT. */
export function runMissing(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: 'ignore' });
    child.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? resolve(err.code) : reject(err)));
    child.on('spawn', () => reject(new Error(`${file} unexpectedly started`)));
  });
}

/** Every field of the event of `/bin/echo ARGS` run by this process as `pid`, but its clocks (the API's timestamp, the JSON's time and elapsed). */
export function echoEvent(pid: number, args: string[]) {
  return { pid, ppid: process.pid, uid: 0, comm: 'echo', cgroupId: cgroupIdOf('self'), retval: 0, filename: '/bin/echo', args, truncated: false };
}
