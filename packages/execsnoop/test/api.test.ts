// execsnoop's API against the running kernel: real BPF, real execs started
// here, events matched by PID/PPID and unique markers (the machine may be
// running other workloads at the same time).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { commandLine, type ExecEvent } from '../src/index.js';
import { rawBytes } from '@ebpf/core/decode';
import { capture, echoEvent, runMissing } from './helpers.js';
import { bpfFdTargets, bpfLinks } from '../../../test/support/bpf.js';
import { iterate } from '../../../test/support/events.js';
import { tempDir, uniq, type TempDir } from '../../../test/support/tmp.js';
import { sleep } from '../../../test/support/wait.js';
import { compileC, run, threadComm } from '../../../test/support/workload.js';

const source = (name: string) => new URL(`./c/${name}.c`, import.meta.url);

let tmp: TempDir;
let bin: { nores: string; execat: string; threadexec: string };

beforeAll(() => {
  tmp = tempDir();
  bin = {
    nores: compileC(source('nores')),
    execat: compileC(source('execat')),
    threadexec: compileC(source('threadexec'), { flags: ['-pthread'] }),
  };
});

afterAll(() => tmp?.cleanup());

const ofChild = (pid: number) => (e: ExecEvent) => e.pid === pid && e.ppid === process.pid;

describe('exact arguments', () => {
  it('reports argv exactly as passed: spaces, quotes, empty, newline, tab, non-ASCII', async () => {
    const c = capture();
    try {
      const args = [
        'a b',
        'dq"uote',
        "sq'uote",
        '',
        'new\nline',
        'tab\there',
        'héllo ✓',
        '  lead and trail  ',
        'back\\slash',
        '*?$HOME;|&',
        uniq(),
      ];
      const t0 = process.hrtime.bigint();
      const r = await run('/bin/echo', args);
      const t1 = process.hrtime.bigint();
      expect(r.code).toBe(0);
      const ev = await c.waitFor(ofChild(r.pid));
      expect(ev).toEqual({ timestamp: ev.timestamp, ...echoEvent(r.pid, args) });
      // CLOCK_MONOTONIC, the clock of process.hrtime.bigint()
      expect(ev.timestamp > t0 && ev.timestamp < t1).toBe(true);
      // exactly one event for this process
      expect(c.events.filter((e) => e.pid === r.pid)).toHaveLength(1);
    } finally {
      c.close();
    }
  });

  it('argv[0] is not reported; filename is the path passed, comm the new program', async () => {
    const c = capture();
    try {
      const m = uniq();
      const r = await run('/bin/echo', [m], { argv0: 'not-echo-argv0' });
      const ev = await c.waitFor(ofChild(r.pid));
      expect([ev.filename, ev.comm, ev.args, ev.truncated]).toEqual(['/bin/echo', 'echo', [m], false]);
    } finally {
      c.close();
    }
  });

  it('no arguments gives args []; empty arguments at the end are kept', async () => {
    const c = capture();
    try {
      const r = await run('/bin/true', []);
      const ev = await c.waitFor(ofChild(r.pid));
      expect([ev.filename, ev.args, ev.truncated, ev.comm]).toEqual(['/bin/true', [], false, 'true']);
      for (const args of [[''], ['', ''], ['x', '', '']]) {
        const r2 = await run('/bin/true', args);
        const ev2 = await c.waitFor(ofChild(r2.pid));
        expect([ev2.args, ev2.truncated]).toEqual([args, false]);
      }
    } finally {
      c.close();
    }
  });

  it('19 arguments: all of them, no false truncation (BCC prints "..." here)', async () => {
    const c = capture();
    try {
      const args = Array.from({ length: 19 }, (_, i) => `a${i + 1}`);
      args[18] = uniq();
      const r = await run('/bin/echo', args);
      const ev = await c.waitFor(ofChild(r.pid));
      expect(ev.args).toEqual(args);
      expect(ev.truncated).toBe(false);
    } finally {
      c.close();
    }
  });

  it('200 and 600 arguments: all of them (600 is past the entry-side count limit)', async () => {
    const c = capture();
    try {
      for (const n of [200, 600]) {
        const args = Array.from({ length: n }, (_, i) => `arg${i}`);
        const r = await run('/bin/echo', args);
        const ev = await c.waitFor(ofChild(r.pid));
        expect(ev.args).toHaveLength(n);
        expect(ev.args).toEqual(args);
        expect(ev.truncated).toBe(false);
      }
    } finally {
      c.close();
    }
  });

  it('arguments up to the 32 KiB capture limit are complete (10 x 3000 bytes)', async () => {
    const c = capture();
    try {
      const args = Array.from({ length: 10 }, (_, i) => String.fromCharCode(65 + i).repeat(2999) + i);
      const r = await run('/bin/echo', args, { stdio: 'ignore' });
      const ev = await c.waitFor(ofChild(r.pid));
      expect(ev.args.length).toBe(10);
      for (let i = 0; i < 10; i++) expect(ev.args[i] === args[i], `argument ${i}`).toBe(true);
      expect(ev.truncated).toBe(false);
    } finally {
      c.close();
    }
  });

  it('past 32 KiB: truncated, and what is reported is an exact prefix', async () => {
    const c = capture();
    try {
      // One argument of 100 KB. The capture holds the first 32768 bytes of
      // the argument block: "/bin/echo\0" (argv[0]), then 32758 bytes of it.
      const big = 'x'.repeat(100_000 - 8) + 'abcdefgh';
      let r = await run('/bin/echo', [big], { stdio: 'ignore' });
      let ev = await c.waitFor(ofChild(r.pid));
      expect(ev.truncated).toBe(true);
      expect(ev.args).toHaveLength(1);
      expect(big.startsWith(ev.args[0]!)).toBe(true);
      expect(ev.args[0]!.length).toBe(32768 - '/bin/echo\0'.length);
      expect(ev.filename).toBe('/bin/echo');

      // 20 arguments of 3000 bytes (60 KB): the first 10 whole, the 11th cut.
      const args = Array.from({ length: 20 }, (_, i) => String.fromCharCode(65 + i).repeat(3000));
      r = await run('/bin/echo', args, { stdio: 'ignore' });
      ev = await c.waitFor(ofChild(r.pid));
      expect(ev.truncated).toBe(true);
      expect(ev.args.slice(0, 10)).toEqual(args.slice(0, 10));
      expect(ev.args).toHaveLength(11);
      expect(ev.args[10]).toBe(args[10]!.slice(0, 32768 - 10 - 10 * 3001));
    } finally {
      c.close();
    }
  });

  it('arguments whose pages were not resident at entry are complete', async () => {
    // nores puts the argv array and its strings in a shared file mapping and
    // unmaps those pages (MADV_DONTNEED) right before execve(): at
    // sys_enter the BPF program cannot read them, the kernel faults them in.
    // split = how many argv pointers stay resident (a partly readable array).
    const c = capture();
    try {
      const args = Array.from({ length: 10 }, (_, i) => `${i}:` + String.fromCharCode(97 + i).repeat(2998));
      args.push('héllo ✓', '', 'x y', uniq());
      for (const split of [0, 1, 3, 8]) {
        const r = await run(bin.nores, [join(tmp.dir, `map${split}`), String(split), '/bin/echo', ...args], {
          stdio: 'ignore',
        });
        expect(r.code).toBe(0);
        const ev = await c.waitFor((e) => ofChild(r.pid)(e) && e.filename === '/bin/echo');
        expect(ev.args.length, `split ${split}`).toBe(args.length);
        expect(ev.args, `split ${split}`).toEqual(args);
        expect(ev.truncated).toBe(false);
      }
    } finally {
      c.close();
    }
  });

  it('invalid UTF-8 in an argument comes out exact: each such byte as U+DCNN (rawBytes gives it back), the valid parts intact', async () => {
    // spawn() only passes strings: printf makes the raw bytes, and the shell
    // execs the helper (same PID), which execs echo with them.
    const c = capture();
    try {
      const m = uniq();
      const script = `exec "$0" "$1" 0 /bin/echo "$(printf 'ok-\\377\\303-\\303\\251-${m}')"`;
      const r = await run('/bin/sh', ['-c', script, bin.nores, join(tmp.dir, 'utf8map')], { stdio: 'ignore' });
      expect(r.code).toBe(0);
      const ev = await c.waitFor((e) => e.pid === r.pid && e.filename === '/bin/echo');
      expect(ev.ppid).toBe(process.pid);
      expect(ev.args).toEqual([`ok-\udcff\udcc3-é-${m}`]); // the bytes, exact (surrogateescape)
      expect(rawBytes(ev.args[0]!)).toEqual(Buffer.concat([Buffer.from('ok-'), Buffer.from([0xff, 0xc3]), Buffer.from(`-é-${m}`)]));
      expect(ev.truncated).toBe(false);
    } finally {
      c.close();
    }
  });
});

describe('execveat, threads, scripts', () => {
  it('traces execveat: with a path, fexecve-style (AT_EMPTY_PATH), and failing', async () => {
    const c = capture({ failed: true });
    try {
      const m = uniq();
      const missing = `/nonexistent-${m}`;
      const r = await run(bin.execat, [m, missing]);
      expect(r.code).toBe(0);
      const [p1, p2, p3, , fd] = r.stdout.trim().split('\n').pop()!.split(' ').map(Number) as number[];
      const e1 = await c.waitFor((e) => e.pid === p1);
      const e2 = await c.waitFor((e) => e.pid === p2);
      const e3 = await c.waitFor((e) => e.pid === p3);
      expect([e1.filename, e1.args, e1.retval, e1.comm, e1.ppid, e1.truncated]).toEqual([
        '/bin/true', ['fdcwd', m], 0, 'true', r.pid, false,
      ]);
      expect([e2.filename, e2.args, e2.retval, e2.comm, e2.ppid, e2.truncated]).toEqual([
        `/dev/fd/${fd}`, ['empty path', m], 0, 'echo', r.pid, false,
      ]);
      expect([e3.filename, e3.args, e3.retval, e3.comm, e3.ppid, e3.truncated]).toEqual([
        missing, ['failing', m], -2, 'execat', r.pid, false,
      ]);
      for (const p of [p1, p2, p3]) expect(c.events.filter((e) => e.pid === p)).toHaveLength(1);
    } finally {
      c.close();
    }
  });

  it('a failed exec whose argument strings are not resident is flagged truncated, not reported wrong', async () => {
    // A failed exec never faults the caller's strings in, and a BPF program
    // cannot: the arguments are lost (BCC and libbpf lose them too), but the
    // event says so.
    const c = capture({ failed: true });
    try {
      const m = uniq();
      const missing = `/nonexistent-${m}`;
      const r = await run(bin.execat, [m, missing]);
      const p4 = Number(r.stdout.trim().split('\n').pop()!.split(' ')[3]);
      const ev = await c.waitFor((e) => e.pid === p4);
      expect([ev.filename, ev.retval, ev.comm, ev.ppid]).toEqual([missing, -2, 'execat', r.pid]);
      expect(ev.truncated).toBe(true);
      expect(ev.args).toEqual([]);
    } finally {
      c.close();
    }
  });

  it('an exec by a non-leader thread is reported once, under the process PID', async () => {
    const c = capture();
    try {
      const m = uniq();
      const r = await run(bin.threadexec, ['from thread', m]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`from thread ${m}\n`);
      const ev = await c.waitFor((e) => e.pid === r.pid && e.filename === '/bin/echo');
      expect([ev.ppid, ev.comm, ev.args, ev.retval, ev.truncated]).toEqual([process.pid, 'echo', ['from thread', m], 0, false]);
      // the helper's own exec, then echo's: nothing else under that PID
      expect(c.events.filter((e) => e.pid === r.pid).map((e) => e.filename)).toEqual([bin.threadexec, '/bin/echo']);
    } finally {
      c.close();
    }
  });

  it('#! scripts: filename is the script, args exactly those given (not the interpreter\'s)', async () => {
    const c = capture();
    try {
      const plain = join(tmp.dir, 'plain.sh');
      const withArg = join(tmp.dir, 'witharg.sh');
      const nested = join(tmp.dir, 'nested.sh');
      writeFileSync(plain, '#!/bin/sh\nexit 0\n');
      writeFileSync(withArg, '#!/bin/sh -e\nexit 0\n');
      // a script whose interpreter is itself a script: two strings inserted
      writeFileSync(nested, `#!${plain}\nexit 0\n`);
      for (const f of [plain, withArg, nested]) chmodSync(f, 0o755);
      for (const script of [plain, withArg, nested]) {
        const args = ['a b', '', uniq(), script];
        const r = await run(script, args);
        expect(r.code).toBe(0);
        const ev = await c.waitFor(ofChild(r.pid));
        expect([ev.filename, ev.args, ev.truncated, ev.retval]).toEqual([script, args, false, 0]);
        expect(ev.comm).toBe(script.split('/').pop());
      }
    } finally {
      c.close();
    }
  });
});

describe('failed execs', () => {
  it('failed: true reports ENOENT as retval -2 with the caller\'s comm', async () => {
    const c = capture({ failed: true });
    try {
      const missing = `/nonexistent-dir/${uniq()}`;
      const comm = threadComm();
      await runMissing(missing, ['a', 'b c']);
      const ev = await c.waitFor((e) => e.filename === missing);
      expect(ev).toEqual({
        timestamp: ev.timestamp,
        pid: ev.pid,
        ppid: process.pid,
        uid: 0,
        comm,
        cgroupId: echoEvent(0, []).cgroupId,
        retval: -2,
        filename: missing,
        args: ['a', 'b c'],
        truncated: false,
      });
      expect(ev.pid).not.toBe(process.pid);
      expect(c.events.filter((e) => e.filename === missing)).toHaveLength(1);
    } finally {
      c.close();
    }
  });

  it('without failed, a failed exec produces no event', async () => {
    const c = capture();
    try {
      const missing = `/nonexistent-dir/${uniq()}`;
      await runMissing(missing, ['a']);
      const sentinel = uniq('sentinel');
      const r = await run('/bin/echo', [sentinel]);
      await c.waitFor(ofChild(r.pid));
      expect(c.events.filter((e) => e.filename === missing || e.retval !== 0)).toEqual([]);
    } finally {
      c.close();
    }
  });
});

describe('filters', () => {
  const nobody = { uid: 65534, gid: 65534, cwd: '/' };

  it('uid: 0 keeps only root\'s execs (BCC ignores -u 0)', async () => {
    const c = capture({ uid: 0 });
    try {
      const mNobody = uniq('nobody');
      const mRoot = uniq('root');
      const rn = await run('/bin/echo', [mNobody], nobody);
      expect(rn.code).toBe(0);
      const rr = await run('/bin/echo', [mRoot]);
      const ev = await c.waitFor(ofChild(rr.pid));
      expect([ev.uid, ev.args]).toEqual([0, [mRoot]]);
      expect(c.events.filter((e) => e.pid === rn.pid || e.args.includes(mNobody))).toEqual([]);
      expect(c.events.every((e) => e.uid === 0)).toBe(true);
    } finally {
      c.close();
    }
  });

  it('uid: 65534 keeps only that user\'s execs', async () => {
    const c = capture({ uid: 65534 });
    try {
      const mRoot = uniq('root');
      const mNobody = uniq('nobody');
      const rr = await run('/bin/echo', [mRoot]);
      const rn = await run('/bin/echo', [mNobody], nobody);
      expect(rn.code).toBe(0);
      const ev = await c.waitFor(ofChild(rn.pid));
      expect([ev.uid, ev.args, ev.comm, ev.filename]).toEqual([65534, [mNobody], 'echo', '/bin/echo']);
      expect(c.events.filter((e) => e.pid === rr.pid || e.args.includes(mRoot))).toEqual([]);
      expect(c.events.every((e) => e.uid === 65534)).toBe(true);
    } finally {
      c.close();
    }
  });

  it('ppid keeps only children of that parent', async () => {
    // The parent waits on stdin so the tracer can be set up with its PID first.
    const mIn1 = uniq('in1');
    const mIn2 = uniq('in2');
    const mOut = uniq('out');
    const sh = spawn('/bin/sh', ['-c', 'read x; /bin/echo "$1"; /bin/echo "$2"; exit 0', 'sh', mIn1, mIn2], {
      stdio: ['pipe', 'ignore', 'inherit'],
    });
    const exited = new Promise<number | null>((r) => sh.on('close', r));
    await new Promise((r) => sh.on('spawn', r));
    const c = capture({ ppid: sh.pid! });
    try {
      const out = await run('/bin/echo', [mOut]); // child of this process: filtered out
      expect(out.code).toBe(0);
      sh.stdin!.end('go\n');
      expect(await exited).toBe(0);
      const [e1, e2] = [await c.waitFor((e) => e.args[0] === mIn1), await c.waitFor((e) => e.args[0] === mIn2)];
      expect([e1!.ppid, e1!.filename, e2!.ppid, e2!.filename]).toEqual([sh.pid, '/bin/echo', sh.pid, '/bin/echo']);
      expect(c.events.filter((e) => e.pid === out.pid || e.args.includes(mOut))).toEqual([]);
      expect(c.events.every((e) => e.ppid === sh.pid)).toBe(true);
    } finally {
      c.close();
    }
  });

  it('name matches the comm (a regex)', async () => {
    const c = capture({ name: /^ec.o$/ });
    try {
      const mTrue = uniq();
      const mEcho = uniq();
      const rt = await run('/bin/true', [mTrue]);
      const re = await run('/bin/echo', [mEcho]);
      const ev = await c.waitFor(ofChild(re.pid));
      expect([ev.comm, ev.args]).toEqual(['echo', [mEcho]]);
      expect(c.events.filter((e) => e.pid === rt.pid)).toEqual([]);
      expect(c.events.every((e) => e.comm === 'echo')).toBe(true);
    } finally {
      c.close();
    }
  });

  it('line matches the space-joined file name and arguments (a regex)', async () => {
    const m = uniq('line');
    const c = capture({ line: new RegExp(`^/bin/echo pre ${m} post$`) });
    try {
      const rNo = await run('/bin/echo', [m]); // contains the marker, but not the whole line
      const rYes = await run('/bin/echo', ['pre', m, 'post']);
      const ev = await c.waitFor(ofChild(rYes.pid));
      expect(commandLine(ev)).toBe(`/bin/echo pre ${m} post`);
      expect(c.events.filter((e) => e.pid === rNo.pid)).toEqual([]);
      expect(c.events.map((e) => e.pid)).toEqual([rYes.pid]);
    } finally {
      c.close();
    }
  });

  it('rejects bad options before loading anything', () => {
    const before = bpfFdTargets();
    expect(() => capture({ uid: -1 })).toThrow(/uid must be an integer/);
    expect(() => capture({ ppid: 1.5 })).toThrow(/ppid must be an integer/);
    expect(() => capture({ ringBytes: 5000 })).toThrow(/power of two/);
    expect(bpfFdTargets()).toEqual(before);
  });
});

describe('lifecycle', () => {
  it('close() is idempotent, ends for await after delivering what was buffered, and frees every BPF fd', async () => {
    const before = bpfFdTargets();
    const c = capture();
    expect(bpfLinks()).toBe(4);
    const { seen, ended } = iterate(c.tracer);
    const m = uniq();
    const r = await run('/bin/echo', [m]);
    // no waiting: close() must still deliver the event already in the ring
    c.close();
    expect(c.tracer.closed).toBe(true);
    expect(() => c.close()).not.toThrow();
    expect(await ended()).toBe(true);
    expect(seen.filter(ofChild(r.pid)).map((e) => e.args)).toEqual([[m]]);
    expect(bpfFdTargets()).toEqual(before);
    expect(bpfLinks()).toBe(0);
    // a new iteration of a closed tracer ends at once
    const after = await c.tracer[Symbol.asyncIterator]().next();
    expect(after.done).toBe(true);
    expect(c.tracer.lost()).toEqual({ ring: 0 });
  });

  it('a burst of 500 execs: every one captured, nothing lost', async () => {
    const c = capture();
    try {
      const sh = await run('/bin/sh', ['-c', 'for i in $(seq 500); do /bin/true "$i"; done; exit 0']);
      expect(sh.code).toBe(0);
      const mine = (e: ExecEvent) => e.ppid === sh.pid && e.filename === '/bin/true';
      const evs = await c.waitForCount(mine, 500, 10_000);
      await sleep(100);
      c.tracer.flush();
      expect(c.events.filter(mine)).toHaveLength(500);
      expect(evs.map((e) => e.args[0])).toEqual(Array.from({ length: 500 }, (_, i) => String(i + 1)));
      expect(new Set(evs.map((e) => e.pid)).size).toBe(500);
      expect(c.tracer.lost().ring).toBe(0);
    } finally {
      c.close();
    }
  });
});
