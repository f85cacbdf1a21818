// Shared by the exitsnoop tests: a tracer that collects events, shell
// snippets that end as told, and the CLI's header. Workloads (matched by
// PID: the machine runs other workloads too), temp dirs and the CLI as a
// child process come from test/support.
import type { SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { exitsnoop, type ExitEvent, type ExitsnoopOptions, type Tracer } from '../src/index.js';
import { collect, type Capture as EventCapture } from '../../../test/support/events.js';
import { run, type RunResult } from '../../../test/support/workload.js';

/** A running tracer and every event it has delivered so far. */
export type Capture = EventCapture<ExitEvent, Tracer<ExitEvent>>;

export function capture(opts: ExitsnoopOptions = {}): Capture {
  return collect<ExitEvent, Tracer<ExitEvent>>(exitsnoop(opts));
}

/** Runs a shell snippet with core dumps off (`ulimit -c 0`), so signals leave no core files. */
export function sh(script: string, opts: SpawnOptions = {}): Promise<RunResult> {
  return run('/bin/sh', ['-c', `ulimit -c 0; ${script}`], opts);
}

/** test/c/NAME.c, for compileC(). */
export const cSource = (name: string): URL => new URL(`./c/${name}.c`, import.meta.url);

/** The machine's core_pattern: a leading "|" hands cores to a program instead of a file. */
export function corePattern(): string {
  return readFileSync('/proc/sys/kernel/core_pattern', 'utf8').trim();
}

export const HEADER = 'PCOMM            PID     PPID    TID     AGE(s)  EXIT_CODE';
