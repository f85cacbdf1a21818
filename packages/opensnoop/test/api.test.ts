// opensnoop's API against the running kernel: real BPF, real system calls
// made by the opener workload, events matched by the workload's PID and
// paths unique to this run (other workloads run on the machine meanwhile).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { rawBytes } from '@ebpf/core/decode';
import { join } from 'node:path';
import { UsageError } from '@ebpf/core';
import { openFlagNames, opensnoop, type OpenEvent } from '../src/index.js';
import { buildOpener, capture, hexPath, runOpener } from './helpers.js';
import { bpfFdTargets } from '../../../test/support/bpf.js';
import { tempDir, uniq, type TempDir } from '../../../test/support/tmp.js';
import { DEADLINE, waitFor } from '../../../test/support/wait.js';
import { cgroupIdOf } from '../../../test/support/container.js';

const O_WRONLY = 0o1;
const O_RDWR = 0o2;
const O_CREAT = 0o100;
const O_TRUNC = 0o1000;
const O_DSYNC = 0o10000;
const O_SYNC = 0o4010000;
const O_DIRECTORY = 0o200000;
const O_CLOEXEC = 0o2000000;
const AT_FDCWD = -100;

let tmp: TempDir;
let shm: TempDir;
let opener: string;

beforeAll(() => {
  tmp = tempDir('opensnoop-test-');
  shm = tempDir('opensnoop-test-', '/dev/shm');
  opener = buildOpener();
});

afterAll(() => {
  tmp?.cleanup();
  shm?.cleanup();
});

const ofRun = (pid: number, paths?: string[]) => (e: OpenEvent) => e.pid === pid && (!paths || paths.includes(e.path));

describe('events', () => {
  it('open, openat and openat2: every field exact, in call order', async () => {
    const c = capture();
    try {
      const file = join(tmp.dir, uniq('file'));
      writeFileSync(file, 'x');
      const missing = join(tmp.dir, uniq('missing'));
      const created = join(tmp.dir, uniq('created'));
      const t0 = process.hrtime.bigint();
      const r = await runOpener(opener, [
        'open', file, '0', '0',
        'openat', 'cwd', missing, '0', '0',
        'openat', 'cwd', created, '1101', '640',
        'openat2', 'cwd', file, '2000002', '0',
        'open', created, '10001', '600',
      ]);
      const t1 = process.hrtime.bigint();
      const paths = [file, missing, created];
      const evs = await c.waitForCount(ofRun(r.pid, paths), 5);
      expect(evs).toHaveLength(5);
      const tid = r.calls[0]!.tid;
      expect(tid).toBe(r.pid);
      const base = { pid: r.pid, tid, uid: 0, comm: 'opener', cgroupId: cgroupIdOf('self'), truncated: false };
      const fd = (i: number) => r.calls[i]!.ret;
      expect(evs.map(({ timestamp: _, ...e }) => e)).toEqual([
        { ...base, syscall: 'open', fd: fd(0), errno: 0, flags: 0, mode: 0, dirfd: AT_FDCWD, path: file },
        { ...base, syscall: 'openat', fd: -1, errno: 2, flags: 0, mode: 0, dirfd: AT_FDCWD, path: missing },
        { ...base, syscall: 'openat', fd: fd(2), errno: 0, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o640, dirfd: AT_FDCWD, path: created },
        { ...base, syscall: 'openat2', fd: fd(3), errno: 0, flags: O_RDWR | O_CLOEXEC, mode: 0, dirfd: AT_FDCWD, path: file },
        { ...base, syscall: 'open', fd: fd(4), errno: 0, flags: O_WRONLY | O_DSYNC, mode: 0o600, dirfd: AT_FDCWD, path: created },
      ]);
      expect(r.calls.map((k) => k.ret >= 0)).toEqual([true, false, true, true, true]);
      for (const e of evs) expect(e.timestamp > t0 && e.timestamp < t1).toBe(true); // CLOCK_MONOTONIC
      for (let i = 1; i < evs.length; i++) expect(evs[i]!.timestamp >= evs[i - 1]!.timestamp).toBe(true);
      expect(openFlagNames(evs[2]!.flags)).toEqual(['O_WRONLY', 'O_CREAT', 'O_TRUNC']);
    } finally {
      c.close();
    }
  });

  it('openat and openat2 relative to a directory fd report that dirfd; a bad pointer gives errno 14 and path ""', async () => {
    const c = capture();
    try {
      const sub = join(tmp.dir, uniq('dir'));
      mkdirSync(sub);
      writeFileSync(join(sub, 'inner'), 'x');
      const r = await runOpener(opener, [
        'openat', 'cwd', sub, '200000', '0',
        'openat', 'last', 'inner', '0', '0',
        'openat2', '3', 'inner', '0', '0',
        'badptr',
      ]);
      const dirfd = r.calls[0]!.ret;
      expect(dirfd).toBe(3);
      const evs = await c.waitForCount((e) => e.pid === r.pid && (e.path === sub || e.path === 'inner' || e.errno === 14), 4);
      expect(evs.map((e) => [e.syscall, e.dirfd, e.path, e.fd, e.errno, e.flags])).toEqual([
        ['openat', AT_FDCWD, sub, 3, 0, O_DIRECTORY],
        ['openat', 3, 'inner', r.calls[1]!.ret, 0, 0],
        ['openat2', 3, 'inner', r.calls[2]!.ret, 0, 0],
        ['open', AT_FDCWD, '', -1, 14, 0],
      ]);
    } finally {
      c.close();
    }
  });

  it('a 3000-byte path through deep directories comes whole; past PATH_MAX it is cut at 4096 bytes and marked', async () => {
    const c = capture();
    try {
      let deep = join(tmp.dir, uniq('deep'));
      while (3000 - deep.length - 1 > 250) deep = join(deep, 'd'.repeat(200));
      mkdirSync(deep, { recursive: true });
      const file = join(deep, 'f'.repeat(3000 - deep.length - 1));
      expect(file.length).toBe(3000);
      writeFileSync(file, 'x');
      const tooLong = `${tmp.dir}/${'a/'.repeat(2500)}x`; // 5000+ bytes: ENAMETOOLONG
      const r = await runOpener(opener, ['openat', 'cwd', file, '0', '0', 'openat', 'cwd', tooLong, '0', '0']);
      const evs = await c.waitForCount((e) => e.pid === r.pid && (e.path === file || e.path.startsWith(`${tmp.dir}/a/`)), 2);
      expect([evs[0]!.path, evs[0]!.fd, evs[0]!.truncated]).toEqual([file, r.calls[0]!.ret, false]);
      expect([evs[1]!.path, evs[1]!.errno, evs[1]!.truncated]).toEqual([tooLong.slice(0, 4096), 36, true]);
    } finally {
      c.close();
    }
  });

  it('paths are raw bytes: control characters kept, invalid UTF-8 as U+DCNN (rawBytes gives them back), UTF-8 decoded', async () => {
    const c = capture();
    try {
      const m = uniq('ctl');
      const raw = Buffer.concat([Buffer.from(`${tmp.dir}/${m}-nl\n-tab\t-esc\x1b[31m-`), Buffer.from([0xff, 0xc3]), Buffer.from('-héllo✓')]);
      const r = await runOpener(opener, ['openat', 'cwd', hexPath(raw), '0', '0']);
      const [ev] = await c.waitForCount((e) => e.pid === r.pid && e.path.includes(m), 1);
      expect(ev!.path).toBe(`${tmp.dir}/${m}-nl\n-tab\t-esc\x1b[31m-\udcff\udcc3-héllo✓`);
      expect(rawBytes(ev!.path)).toEqual(raw);
      expect(ev!.errno).toBe(2);
    } finally {
      c.close();
    }
  });
});

describe('fullPath', () => {
  it('relative to the cwd, across mount points (/dev/shm on /dev on /), and from a directory fd', async () => {
    const c = capture({ fullPath: true });
    try {
      const here = join(shm.dir, uniq('cwd'));
      mkdirSync(join(here, 'sub'), { recursive: true });
      writeFileSync(join(here, 'sub', 'f'), 'x');
      const abs = join(shm.dir, uniq('abs'));
      const r = await runOpener(opener, [
        'chdir', here,
        'openat', 'cwd', 'sub/f', '0', '0',
        'open', './missing', '0', '0',
        'openat', 'cwd', 'sub', '200000', '0',
        'openat2', 'last', 'f', '0', '0',
        'openat', 'cwd', abs, '0', '0',
      ], { cwd: '/' });
      const evs = await c.waitForCount((e) => e.pid === r.pid && ['sub/f', './missing', 'sub', 'f', abs].includes(e.path), 5);
      expect(evs.map((e) => [e.path, e.fullPath])).toEqual([
        ['sub/f', `${here}/sub/f`],
        ['./missing', `${here}/./missing`],
        ['sub', `${here}/sub`],
        ['f', `${here}/sub/f`], // from the dirfd, not the cwd
        [abs, abs],
      ]);
    } finally {
      c.close();
    }
  });

  it('a cwd 3000 bytes deep, seen from another thread of the process; without fullPath no fullPath', async () => {
    const c = capture({ fullPath: true });
    const plain = capture();
    try {
      let deep = join(tmp.dir, uniq('deepcwd'));
      while (deep.length < 3000) deep = join(deep, 'e'.repeat(150));
      mkdirSync(deep, { recursive: true });
      const name = uniq('rel');
      const r = await runOpener(opener, ['chdir', deep, 'thread', 'openat', 'cwd', name, '0', '0'], { cwd: '/' });
      const [ev] = await c.waitForCount((e) => e.pid === r.pid && e.path === name, 1);
      expect(ev!.tid).not.toBe(r.pid);
      expect(ev!.fullPath).toBe(`${deep}/${name}`);
      const [p] = await plain.waitForCount((e) => e.pid === r.pid && e.path === name, 1);
      expect(p!.fullPath).toBeUndefined();
    } finally {
      c.close();
      plain.close();
    }
  });
});

describe('filters (in the kernel)', () => {
  it('pid, tid, uid, failed, name: only the matching calls', async () => {
    const file = join(tmp.dir, uniq('f'));
    writeFileSync(file, 'x');
    const missing = join(tmp.dir, uniq('nope'));
    const comm = uniq('c').slice(0, 15);
    // The workload: a process, then the same calls from a thread, as root,
    // and a second process as nobody.
    const args = ['openat', 'cwd', file, '0', '0', 'openat', 'cwd', missing, '0', '0',
      'thread', 'openat', 'cwd', file, '0', '0', 'comm', comm, 'openat', 'cwd', file, '0', '0'];
    const ours = (paths: string[]) => (e: OpenEvent) => paths.includes(e.path);
    const nobody = capture({ uid: 65534 });
    const failed = capture({ failed: true });
    const named = capture({ name: comm.slice(3, 12) }); // a substring, as BCC
    let byPid, byTid;
    try {
      // pid and tid need the workload's ids before it runs: a shell that
      // waits for a line on stdin, then execs opener (same PID).
      const child = spawn('/bin/sh', ['-c', `read x; exec ${opener} "$@"`, 'sh', ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
      byPid = capture({ pid: child.pid! });
      byTid = capture({ tid: child.pid! }); // the main thread only
      let out = '';
      child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
      const done = new Promise((res) => child.on('close', res));
      child.stdin!.end('go\n');
      await done;
      const rNobody = await runOpener(opener, args, { uid: 65534, gid: 65534, cwd: '/' });
      const calls = out.split('\n').filter(Boolean).map((l) => l.split(' '));
      const threadTid = Number(calls[2]![3]);

      const all = await byPid.waitForCount(ours([file, missing]), 4);
      expect(all.map((e) => [e.path, e.tid, e.errno])).toEqual([
        [file, child.pid, 0], [missing, child.pid, 2], [file, threadTid, 0], [file, child.pid, 0],
      ]);
      expect(byPid.events.every((e) => e.pid === child.pid)).toBe(true);

      await byTid.waitForCount(ours([file, missing]), 3);
      expect(byTid.events.filter(ours([file, missing])).map((e) => e.tid)).toEqual([child.pid, child.pid, child.pid]);
      expect(byTid.events.every((e) => e.tid === child.pid)).toBe(true);

      const f = await failed.waitForCount((e) => e.path === missing, 2);
      expect(f.map((e) => [e.pid, e.errno])).toEqual([[child.pid, 2], [rNobody.pid, 2]]);
      expect(failed.events.every((e) => e.fd === -1 && e.errno > 0)).toBe(true);

      const n = await nobody.waitForCount(ours([file, missing]), 4);
      expect(n.every((e) => e.pid === rNobody.pid && e.uid === 65534)).toBe(true);
      expect(nobody.events.every((e) => e.uid === 65534)).toBe(true);

      const named2 = await named.waitForCount(ours([file]), 2);
      expect(named2.map((e) => [e.pid, e.comm])).toEqual([[child.pid, comm], [rNobody.pid, comm]]);
      expect(named.events.every((e) => e.comm.includes(comm.slice(3, 12)))).toBe(true);
    } finally {
      for (const c of [nobody, failed, named, byPid, byTid]) c?.close();
    }
  });

  it('flags: O_RDONLY means read-only (not "nothing"), access modes by value, multi-bit flags need all bits', async () => {
    const f = (name: string) => join(tmp.dir, `${name}-${uniq()}`);
    const ro = f('ro'), wo = f('wo'), rw = f('rw'), creat = f('creat'), dsync = f('dsync'), sync = f('sync');
    const calls = [
      ['open', ro, '0', '0'], ['open', wo, '101', '600'], ['open', rw, '102', '600'],
      ['open', creat, '100', '600'], ['open', dsync, '10101', '600'], ['open', sync, '4010101', '600'],
    ];
    const tracers = {
      rdonly: capture({ flags: ['O_RDONLY'] }),
      write: capture({ flags: ['O_WRONLY', 'O_RDWR'] }),
      creat: capture({ flags: ['O_CREAT'] }),
      sync: capture({ flags: ['O_SYNC'] }),
      dsync: capture({ flags: ['O_DSYNC'] }),
    };
    try {
      const r = await runOpener(opener, calls.flat());
      const mine = (e: OpenEvent) => e.pid === r.pid && [ro, wo, rw, creat, dsync, sync].includes(e.path);
      const got = async (c: (typeof tracers)['rdonly'], n: number) => (await c.waitForCount(mine, n)).map((e) => e.path);
      // creat (O_RDONLY|O_CREAT) is read-only too; the last two are write-only
      expect(await got(tracers.rdonly, 2)).toEqual([ro, creat]);
      expect(await got(tracers.write, 4)).toEqual([wo, rw, dsync, sync]);
      expect(await got(tracers.creat, 5)).toEqual([wo, rw, creat, dsync, sync]);
      expect(await got(tracers.sync, 1)).toEqual([sync]); // not O_DSYNC alone
      expect(await got(tracers.dsync, 2)).toEqual([dsync, sync]);
      // nothing else slipped in later
      await tracers.creat.waitForCount(mine, 5);
      for (const c of Object.values(tracers)) c.tracer.flush();
      expect(tracers.rdonly.events.filter(mine)).toHaveLength(2);
      expect(tracers.sync.events.filter(mine)).toHaveLength(1);
      expect(tracers.rdonly.events.every((e) => (e.flags & 3) === 0)).toBe(true);
    } finally {
      for (const c of Object.values(tracers)) c.close();
    }
  });
});

describe('lifecycle and options', () => {
  it('close() frees every BPF object, is idempotent and ends iteration; nothing lost', async () => {
    const before = bpfFdTargets();
    const idle = spawn('/bin/sleep', ['30'], { stdio: 'ignore' }); // a process that opens nothing...
    // ...once its loader is done: wait until it sits in clock_nanosleep (230) / nanosleep (35).
    const syscallNr = () => {
      try {
        return readFileSync(`/proc/${idle.pid}/syscall`, 'utf8').split(' ')[0];
      } catch {
        return '';
      }
    };
    await waitFor(() => ['230', '35'].includes(syscallNr()!), DEADLINE.start, 10);
    const t = opensnoop({ pid: idle.pid! });
    expect(bpfFdTargets().length).toBeGreaterThan(before.length);
    const it = t[Symbol.asyncIterator]();
    const next = it.next();
    expect(t.lost()).toEqual({ ring: 0 });
    t.close();
    t.close();
    expect(await next).toEqual({ value: undefined, done: true });
    expect(bpfFdTargets()).toEqual(before);
    idle.kill();
  });

  it('rejects bad options with a UsageError before loading anything', () => {
    const bad = [
      { pid: 0 }, { pid: -1 }, { tid: 1.5 }, { uid: -1 }, { flags: ['O_BOGUS'] }, { flags: ['rdonly'] },
      { name: 'x'.repeat(16) }, { ringBytes: 5000 }, { ringBytes: 1024 },
    ];
    const before = bpfFdTargets();
    for (const o of bad) expect(() => opensnoop(o as never), JSON.stringify(o)).toThrow(UsageError);
    expect(() => opensnoop({ flags: ['O_NOPE'] })).toThrow('Bad flag: O_NOPE');
    expect(bpfFdTargets()).toEqual(before);
  });
});
