// The direct-I/O storm (diostorm.c beside this file) for the block tools'
// benchmarks, compiled under the name a bench wants (its comm).
import { readFileSync } from 'node:fs';
import { compileC, timeRun } from '../lib.mjs';

const SRC = readFileSync(new URL('diostorm.c', import.meta.url), 'utf8');

/** Compiles the storm as `name`. */
export const dioStorm = (name) => compileC(name, SRC);

/** `procs` storm processes at once, `perProc` reads of `file` each; resolves with I/Os per second. */
export async function runDioStorm(bin, file, procs, perProc) {
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: procs }, () => timeRun(bin, [file, 'read', String(perProc)])));
  return (procs * perProc) / (Number(process.hrtime.bigint() - t0) / 1e9);
}
