// The syscount API against a workload making known system calls: exact
// counts per syscall under -p, the failure filters, latency, per process,
// per thread, --syscall.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '@ebpf/core';
import { syscallName, syscallNumber, syscount, type Row, type Syscount, type SyscountOptions } from '../src/index.js';
import { compileC, killChildren, start, type Child } from '../../../test/support/workload.js';
import { thrown } from '../../../test/support/wait.js';

let bin: string;
const open: Syscount[] = [];

beforeAll(() => {
  bin = compileC(new URL('./c/sysloop.c', import.meta.url));
});

afterAll(async () => {
  for (const s of open) s.stop();
  await killChildren();
});

/** Starts the workload, then syscount with `opts(pid)`, then runs `commands`; returns the rows of the whole run. */
async function counted(commands: string[], opts: (w: Child) => SyscountOptions): Promise<{ w: Child; rows: Row[] }> {
  const w = start(bin, [], { stdio: ['pipe', 'pipe', 'inherit'] });
  await w.expectNext('ready');
  const sc = syscount(opts(w));
  open.push(sc);
  for (const c of commands) expect(await w.request(c)).toBe('done');
  const rows = sc.close()!.rows;
  await w.stop();
  return { w, rows };
}

const byName = (rows: Row[], name: string) => rows.find((r) => r.name === name);

describe('per syscall', () => {
  it('-p: exactly the calls the workload made, under this kernel names', async () => {
    const { rows } = await counted(['getppid 1234', 'enoent 77'], (w) => ({ pid: w.pid }));
    expect(byName(rows, 'getppid')).toMatchObject({ nr: syscallNumber('getppid'), count: 1234 });
    expect(byName(rows, 'openat')!.count).toBe(77);
    // Its stdin reads and stdout writes, and nothing of any other process: the
    // workload made no other calls while traced.
    expect(byName(rows, 'read')!.count).toBeGreaterThanOrEqual(2);
    // (Its last write, "done", may still be returning when the test reads.)
    expect(byName(rows, 'write')!.count).toBeGreaterThanOrEqual(1);
    expect(rows.every((r) => ['getppid', 'openat', 'read', 'write'].includes(r.name!))).toBe(true);
    expect(rows.every((r) => r.totalNs === undefined)).toBe(true);
    // Most calls first.
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.count).toBeLessThanOrEqual(rows[i - 1]!.count);
  });

  it('-x: only the failed calls, whatever the errno', async () => {
    const { rows } = await counted(['getppid 500', 'enoent 40', 'ebadf 30'], (w) => ({ pid: w.pid, failures: true }));
    expect(rows.map((r) => [r.name, r.count]).sort()).toEqual([
      ['close', 30],
      ['openat', 40],
    ]);
  });

  it('-e ENOENT: only the calls that failed with it', async () => {
    const { rows } = await counted(['getppid 500', 'enoent 40', 'ebadf 30'], (w) => ({ pid: w.pid, errno: 2 }));
    expect(rows.map((r) => [r.name, r.count])).toEqual([['openat', 40]]);
  });

  it('--syscall: only that one', async () => {
    const { rows } = await counted(['getppid 300', 'enoent 40'], (w) => ({ pid: w.pid, syscall: syscallNumber('getppid') }));
    expect(rows).toEqual([{ nr: syscallNumber('getppid'), name: 'getppid', count: 300 }]);
  });

  it('-L: each syscall with its time; sleeps take at least what they asked for', async () => {
    const { rows } = await counted(['getppid 200', 'sleep 4 25'], (w) => ({ pid: w.pid, latency: true }));
    const sleep = byName(rows, 'nanosleep')!;
    expect(sleep.count).toBe(4);
    expect(sleep.totalNs).toBeGreaterThanOrEqual(4 * 25e6);
    const ppid = byName(rows, 'getppid')!;
    expect(ppid.count).toBe(200);
    expect(ppid.totalNs).toBeGreaterThan(0);
    // Most time first.
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.totalNs).toBeLessThanOrEqual(rows[i - 1]!.totalNs!);
  });

  it('-t: one thread', async () => {
    const { rows } = await counted(['getppid 99'], (w) => ({ tid: w.pid }));
    expect(byName(rows, 'getppid')!.count).toBe(99);
  });

  it('no filter: the workload calls are among every process calls', async () => {
    const { rows } = await counted(['getppid 2500'], () => ({}));
    expect(byName(rows, 'getppid')!.count).toBeGreaterThanOrEqual(2500);
  });
});

describe('per process (-P)', () => {
  it('one row per process, with its name, and every call it made', async () => {
    const { w, rows } = await counted(['getppid 800', 'enoent 20'], (w) => ({ pid: w.pid, perProcess: true }));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ pid: w.pid, comm: 'sysloop' });
    expect(rows[0]!.count).toBeGreaterThanOrEqual(824); // + its reads and writes
  });

  it('-P -L -x: failed calls per process, timed', async () => {
    const { w, rows } = await counted(['getppid 100', 'enoent 25', 'ebadf 5'], (w) => ({ pid: w.pid, perProcess: true, latency: true, failures: true }));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ pid: w.pid, comm: 'sysloop', count: 30 });
    expect(rows[0]!.totalNs).toBeGreaterThan(0);
  });
});

describe('intervals', () => {
  it('each interval counts its own calls, none twice', async () => {
    const w = start(bin, [], { stdio: ['pipe', 'pipe', 'inherit'] });
    await w.expectNext('ready');
    const sc = syscount({ pid: w.pid });
    open.push(sc);
    expect(await w.request('getppid 300')).toBe('done');
    const first = sc.snapshot();
    expect(await w.request('getppid 200')).toBe('done');
    const last = sc.close()!;
    expect(byName(first.rows, 'getppid')!.count).toBe(300);
    expect(byName(last.rows, 'getppid')!.count).toBe(200);
    expect(last.final).toBe(true);
    await w.stop();
  });
});

describe('names and options', () => {
  it("names come from the kernel's ABI table", () => {
    expect([syscallName(0), syscallName(1), syscallName(59), syscallName(257)]).toEqual(['read', 'write', 'execve', 'openat']);
    expect(syscallName(1000)).toBe('[unknown: 1000]');
    expect(syscallNumber('sys_getppid')).toBe(110);
  });

  it('bad options: a UsageError, before anything loads', () => {
    expect(thrown(() => syscount({ errno: 0 }))).toBeInstanceOf(UsageError);
    expect(thrown(() => syscount({ pid: 1, tid: 1 })).message).toMatch(/mutually exclusive/);
    expect(thrown(() => syscount({ syscall: 5000 }))).toBeInstanceOf(UsageError);
  });
});
