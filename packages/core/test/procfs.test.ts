// /proc/PID/stat, /comm and /status (kernel/procfs.ts), read from processes
// this test starts: one whose name holds spaces and parentheses, one stopped,
// a zombie, and one that is gone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { parseProcStat, processAlive, processState, readComm, readProcStat, readProcStatus } from '../src/index.js';
import { tempDir, waitFor, type TempDir } from './helpers.js';

// exec() names the process after the file's base name: this one is what
// naive parsers (split on spaces, or on the first ')') get wrong.
const ODD_NAME = 'a) b (c';

let tmp: TempDir;
const children: ChildProcess[] = [];

function start(cmd: string, args: string[]): ChildProcess {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] });
  children.push(child);
  return child;
}

beforeAll(() => {
  tmp = tempDir('ebpf-procfs-test-');
  symlinkSync('/bin/sleep', join(tmp.dir, ODD_NAME));
});

afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  tmp?.cleanup();
});

describe('parseProcStat', () => {
  it('counts fields from the last ")": a comm with spaces and parentheses', () => {
    const line = `4242 (${ODD_NAME}) S 17 4242 4242 0 -1 4194560 100 0 0 0 3 5 0 0 20 0 1 0 98765 1234567 89 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 3 0 0 0 0 0\n`;
    const st = parseProcStat(line);
    expect(st).toMatchObject({ pid: 4242, comm: ODD_NAME, state: 'S', ppid: 17, pgrp: 4242, session: 4242, utime: 3, stime: 5, numThreads: 1, starttime: 98765 });
    expect(st.field(1)).toBe('4242');
    expect(st.field(2)).toBe(ODD_NAME);
    expect(st.field(23)).toBe('1234567');
    expect(st.field(39)).toBe('3');
    expect(st.field(200)).toBeUndefined();
    expect(parseProcStat(Buffer.from(line, 'latin1')).comm).toBe(ODD_NAME);
  });

  it('throws on what is not a stat line', () => {
    expect(() => parseProcStat('')).toThrow(/not a \/proc\/PID\/stat line/);
    expect(() => parseProcStat('12 (x) S 1')).toThrow(/field 5/);
  });
});

describe('reading processes', () => {
  it('this process: pid, comm, ppid, threads, start time', () => {
    const st = readProcStat(process.pid)!;
    expect(st.pid).toBe(process.pid);
    expect(st.ppid).toBe(process.ppid);
    expect(st.comm).toBe(readComm(process.pid));
    expect(st.state).toBe('R'); // it is reading its own stat
    expect(st.numThreads).toBeGreaterThan(1); // node's worker threads
    expect(st.starttime).toBeGreaterThan(0);
    expect(readProcStat(process.pid, process.pid)!.pid).toBe(process.pid);
    const status = readProcStatus(process.pid)!;
    expect(Number(status.Tgid)).toBe(process.pid);
    expect(Number(status.PPid)).toBe(process.ppid);
    expect(status.Name).toBe(st.comm);
  });

  it('a child named "a) b (c": its comm, state, parent and start time', async () => {
    const child = start(join(tmp.dir, ODD_NAME), ['30']);
    const pid = child.pid!;
    expect(await waitFor(() => readComm(pid) === ODD_NAME)).toBe(true);
    const st = readProcStat(pid)!;
    expect(st).toMatchObject({ pid, comm: ODD_NAME, ppid: process.pid, numThreads: 1 });
    expect(st.state).toMatch(/^[RS]$/);
    expect(st.starttime).toBeGreaterThanOrEqual(readProcStat(process.pid)!.starttime);
    expect(processAlive(pid)).toBe(true);

    process.kill(pid, 'SIGSTOP');
    expect(await waitFor(() => processState(pid) === 'T')).toBe(true);
    expect(processAlive(pid)).toBe(true); // stopped is not gone
    process.kill(pid, 'SIGCONT');
    expect(await waitFor(() => processState(pid) !== 'T')).toBe(true);
  });

  it('a zombie is not alive; a reaped process reads as undefined', async () => {
    // sh starts `sleep 0` and becomes `sleep 30`, which never reaps it.
    const parent = start('/bin/sh', ['-c', 'sleep 0 & echo $!; exec sleep 30']);
    const zombie = await new Promise<number>((resolve) => parent.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
    expect(await waitFor(() => processState(zombie) === 'Z')).toBe(true);
    expect(readProcStat(zombie)!.ppid).toBe(parent.pid);
    expect(processAlive(zombie)).toBe(false);
    expect(processAlive(parent.pid!)).toBe(true);

    const exited = new Promise((r) => parent.once('exit', r));
    parent.kill('SIGKILL');
    await exited;
    expect(await waitFor(() => readProcStat(parent.pid!) === undefined)).toBe(true);
    expect(processState(parent.pid!)).toBeUndefined();
    expect(readComm(parent.pid!)).toBeUndefined();
    expect(readProcStatus(parent.pid!)).toBeUndefined();
    expect(processAlive(parent.pid!)).toBe(false);
  });
});
