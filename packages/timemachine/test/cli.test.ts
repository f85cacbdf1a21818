// timemachine as users run it, on real crashing programs it compiles: the
// demo's use-after-free on request #42, abort() from a failed assertion, a
// leak, a clean exit, and Node's process.abort(). Each is recorded from its
// first instruction (record -- CMD), the crash is caught as it happens, the
// window saved, and `rewind` reads it back.
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorLine, expectCleanExit, tool, type Exit } from '../../../test/support/cli.js';
import { tempDir } from '../../../test/support/tmp.js';
import { compileC, run, start } from '../../../test/support/workload.js';
import { processAlive } from '@ebpf/core';
import { dumpDom, screenshot } from '../../../test/support/browser.js';
import type { MemoryAnalysis, TimelineEvent, Window } from '../src/index.js';

const CLI = tool(new URL('../dist/cli.js', import.meta.url));
// Frame pointers and no inlining: the stacks name each function.
const FLAGS = ['-O0', '-g', '-fno-omit-frame-pointer'];
const bin = (name: string): string => compileC(new URL(`./c/${name}.c`, import.meta.url), { flags: FLAGS });
const dir = tempDir('timemachine-');
afterAll(() => dir.cleanup());

interface Rewound {
  crash: Window['crash'] | null;
  events: TimelineEvent[];
  stacks: Record<string, string[]>;
  memory: MemoryAnalysis;
  lost: Window['lost'];
}

async function rewind(file: string, ...args: string[]): Promise<Rewound> {
  const e = await CLI.run(['rewind', '--file', file, '--json', ...args]);
  expectCleanExit(e);
  return JSON.parse(e.stdout) as Rewound;
}

/** Indexes of events matching each predicate, in order: -1 where the order breaks. */
function inOrder(events: TimelineEvent[], preds: Array<(e: TimelineEvent) => boolean>): number[] {
  const at: number[] = [];
  let from = 0;
  for (const p of preds) {
    const i = events.findIndex((e, j) => j >= from && p(e));
    at.push(i);
    if (i < 0) break;
    from = i + 1;
  }
  return at;
}

describe('the use-after-free demo: a segfault on request #42', () => {
  const file = join(dir.dir, 'uaf.json');
  let rec: Exit;
  let fault: string;
  let w: Rewound;

  beforeAll(async () => {
    rec = await CLI.run(['record', '-o', file, '-f', '^(handle|release|log)_request$', '--', bin('uaf')]);
    fault = /^uaf (0x[0-9a-f]+)$/m.exec(rec.stdout)![1]!; // printed by the program just before the write
    w = await rewind(file);
  }, 60_000);

  it('says CRASH DETECTED with the signal, the pid, the fault address and the faulting stack', () => {
    expectCleanExit(rec);
    const pid = Number(/^Recording pid (\d+) /.exec(rec.stdout)![1]);
    const lines = rec.stdout.split('\n');
    const i = lines.findIndex((l) => l.startsWith('CRASH DETECTED'));
    expect(lines[i]).toMatch(new RegExp(`^CRASH DETECTED: SIGSEGV in pid ${pid} \\(tid ${pid}\\) at \\d\\d:\\d\\d:\\d\\d\\.\\d{6} at address ${fault}$`));
    expect(lines[i + 1]).toMatch(/^ {4}log_request\+0x[0-9a-f]+ \[uaf\]$/);
    expect(lines[i + 2]).toMatch(/^ {4}main\+0x[0-9a-f]+ \[uaf\]$/);
    expect(rec.stdout).toContain(`Window saved to ${file} (`);
    expect(existsSync(file)).toBe(true);
    expect(w.crash).toMatchObject({ signal: 'SIGSEGV', signalNumber: 11, pid, tid: pid, address: fault, code: 1 /* SEGV_MAPERR */, seen: 'signal' });
  });

  it('the window holds the requests, in order, up to the crash', () => {
    const ev = w.events;
    for (let i = 1; i < ev.length; i++) expect(BigInt(ev[i]!.timestamp) >= BigInt(ev[i - 1]!.timestamp)).toBe(true);
    const big = (e: TimelineEvent) => e.type === 'ALLOC' && e.size === 256 * 1024;
    expect(ev.filter(big)).toHaveLength(42); // requests 1 to 42
    const block = `0x${(BigInt(fault) - 100n).toString(16)}`;
    // request 42's buffer, its "request 42" written to /dev/null (fd 3),
    // request 41's buffer freed, the program's message on stdout, the crash
    const at = inOrder(ev, [
      (e) => e.type === 'FILE' && e.name === 'openat' && e.path === '/dev/null' && e.ret === 3,
      (e) => big(e) && e.address !== block && ev.filter(big).at(-1) === e,
      (e) => e.type === 'SYSCALL' && e.name === 'write' && e.details === 'fd=3 count=11 = 11',
      (e) => e.type === 'FREE' && e.name === 'free' && e.address === block,
      (e) => e.type === 'SYSCALL' && e.name === 'munmap' && e.ret === 0,
      (e) => e.type === 'SYSCALL' && e.name === 'write' && e.details.startsWith('fd=1 '),
      (e) => e.type === 'CRASH' && e.address === fault,
      (e) => e.type === 'EXIT' && e.details.startsWith('killed by SIGSEGV'),
    ]);
    expect(at.every((i) => i >= 0)).toBe(true);
    expect(w.lost).toEqual({ ring: 0, evicted: 0, stacks: 0 });
  });

  it('-f: the entries of the functions matched', () => {
    const calls = (name: string) => w.events.filter((e) => e.type === 'FUNC_ENTRY' && e.name === name).length;
    expect([calls('handle_request'), calls('release_request'), calls('log_request')]).toEqual([42, 41, 1]);
  });

  it('the memory analysis names the free that preceded the crash', () => {
    const u = w.memory.useAfterFree!;
    expect(u.address).toBe(`0x${(BigInt(fault) - 100n).toString(16)}`);
    expect(u.offset).toBe(100);
    expect(u.size).toBe(256 * 1024);
    expect(u.freed!.name).toBe('free');
    expect(u.freed!.elapsed).toBeLessThan(w.crash!.elapsed);
    expect(w.stacks[u.freed!.stack!]!.slice(0, 3).map((f) => f.replace(/\+0x[0-9a-f]+/, ''))).toEqual(['free [libc.so.6]', 'release_request [uaf]', 'main [uaf]']);
    expect(w.stacks[u.allocated.stack!]![0]).toMatch(/^handle_request\+0x[0-9a-f]+ \[uaf\]$/);
    // 42 requests allocated, 41 freed; request 42's buffer is outstanding
    expect(w.memory.outstanding.filter((b) => b.size === 256 * 1024)).toHaveLength(1);
  });

  it('rewind in the terminal: the timeline around the crash, then the analysis', async () => {
    const e = await CLI.run(['rewind', '--file', file, 'crash']);
    expectCleanExit(e);
    const out = e.stdout;
    expect(out).toMatch(/^TIME {16}PID {5}TID TYPE {7}ADDRESS\/NAME {9}DETAILS$/m);
    expect(out).not.toMatch(/ $/m);
    expect(out).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{6} +\\d+ +\\d+ CRASH +SIGSEGV ${fault} +si_code=1 fatal, no handler$`, 'm'));
    expect(out).toMatch(/^\d\d:\d\d:\d\d\.\d{6} +\d+ +\d+ FILE +openat +"\/dev\/null" O_WRONLY = 3$/m);
    expect(out).toContain(`USE-AFTER-FREE: the fault address ${fault} is 100 bytes into a block freed before the crash`);
    expect(out).toMatch(/freed by free at \d\d:\d\d:\d\d\.\d{6} \(tid \d+\), 0\.\d{6} s before the crash:\n {8}free\+0x[0-9a-f]+ \[libc\.so\.6\]\n {8}release_request\+0x[0-9a-f]+ \[uaf\]/);
    // a time as printed, and a span: the crash 1 s later is outside the first second
    const crashAt = /at (\d\d:\d\d:\d\d\.\d{6}) at address/.exec(out)![1]!;
    const r = await rewind(file, '--span', '0.001', crashAt);
    expect(r.events.some((x) => x.type === 'CRASH')).toBe(true);
    expect(r.events.length).toBeLessThan(w.events.length);
  });

  it('--trace: Chrome trace-event JSON, threads as tracks, the crash a global instant (checked by python3)', async () => {
    const trace = join(dir.dir, 'uaf.trace.json');
    await rewind(file, '--trace', trace);
    // Python's json module parses it; the checks follow the Trace Event Format's fields.
    const check = `
import json, sys
t = json.load(open(sys.argv[1]))
assert set(t) >= {"traceEvents"}, t.keys()
ph_ok = {"X", "i", "M"}
for e in t["traceEvents"]:
    assert e["ph"] in ph_ok, e
    assert isinstance(e["name"], str) and isinstance(e["pid"], int) and isinstance(e["tid"], int), e
    assert isinstance(e["ts"], (int, float)), e
    if e["ph"] == "X": assert e["dur"] >= 0, e
    if e["ph"] == "i": assert e["s"] in ("t", "p", "g"), e
    if e["ph"] == "M": assert e["name"] in ("process_name", "thread_name") and "name" in e["args"], e
crash = [e for e in t["traceEvents"] if e["ph"] == "i" and e["s"] == "g"]
threads = [e for e in t["traceEvents"] if e["name"] == "thread_name"]
print(len(crash), crash[0]["name"], crash[0]["args"]["address"], len(threads), sum(1 for e in t["traceEvents"] if e["ph"] == "X" and e["cat"] == "SYSCALL"), sep="|")
`;
    const r = await run('python3', ['-c', check, trace], { stdio: ['ignore', 'pipe', 'pipe'] });
    expect(r.stderr).toBe('');
    const [n, name, addr, threads, syscalls] = r.stdout.trim().split('|');
    expect([n, name, addr, threads]).toEqual(['1', 'CRASH SIGSEGV', fault, '1']);
    expect(Number(syscalls)).toBeGreaterThan(42);
    // the crash's signal is in its name, in the JSON itself
    expect(readFileSync(trace, 'utf8')).toContain('"name":"CRASH SIGSEGV"');
  });

  it('--html: a self-contained page; in chromium the crash and the freed block are on it', async () => {
    const page = join(dir.dir, 'uaf.html');
    await rewind(file, '--html', page);
    const html = readFileSync(page, 'utf8');
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=|https?:\/\//); // nothing fetched
    const dom = await dumpDom(`file://${page}`);
    expect(dom).toContain(`CRASH DETECTED: SIGSEGV`);
    expect(dom).toContain(`at address ${fault}`);
    const block = `0x${(BigInt(fault) - 100n).toString(16)}`;
    expect(dom).toMatch(new RegExp(`<div class="uaf" id="uaf"><b>Use-after-free:</b> the fault address ${fault} is 100 bytes into the freed block <b>${block}</b>`));
    expect(dom).toMatch(new RegExp(`<tr class="FREE freed"><td>[^<]+</td><td>\\d+</td><td>\\d+</td><td>FREE</td><td>free ${block}</td>`));
    expect(dom).toContain('<tr class="CRASH">');
    const shot = await screenshot(`file://${page}`);
    expect(shot.bytes).toBeGreaterThan(10_000);
    copyFileSync(shot.path, join(dir.dir, 'uaf.png')); // kept with the test's files
  });
});

describe('other endings', () => {
  it('abort() from a failed assertion: SIGABRT, no fault address, the opens before it', async () => {
    const file = join(dir.dir, 'assert.json');
    const rec = await CLI.run(['record', '-o', file, '--', bin('assert')]);
    expect([rec.code, rec.signal]).toEqual([0, null]);
    expect(rec.stderr).toMatch(/^assert: .*check_budget: Assertion `opened < 5' failed\.\n$/); // the program's own message
    expect(rec.stdout).toMatch(/^CRASH DETECTED: SIGABRT in pid (\d+) \(tid \1\) at \d\d:\d\d:\d\d\.\d{6}$/m);
    const w = await rewind(file);
    expect(w.crash).toMatchObject({ signal: 'SIGABRT', signalNumber: 6 });
    expect(w.crash!.address).toBeUndefined();
    // libc has no frame pointers: the walk stops in it, and the stack scan finds the program's frames
    const f = w.crash!.frames;
    expect(f[0]).toMatch(/ \[libc\.so\.6\]$/);
    const budget = f.findIndex((x) => /^check_budget\+0x[0-9a-f]+ \[assert\] \(scanned\)$/.test(x));
    const main = f.findIndex((x) => /^main\+0x[0-9a-f]+ \[assert\] \(scanned\)$/.test(x));
    expect(budget).toBeGreaterThan(0);
    expect(main).toBeGreaterThan(budget);
    const opens = w.events.filter((e) => e.type === 'FILE' && e.path === '/dev/null');
    expect(opens).toHaveLength(5);
    const at = inOrder(w.events, [
      (e) => e === opens[4],
      (e) => e.type === 'ALLOC' && e.size === 100,
      (e) => e.type === 'SYSCALL' && e.name === 'close',
      (e) => e.type === 'FREE' && e.address === w.events.filter((x) => x.type === 'ALLOC' && x.size === 100).at(-1)!.address,
      (e) => e.type === 'SYSCALL' && e.name === 'write' && e.details.startsWith('fd=2 '), // the assertion's message
      (e) => e.type === 'CRASH' && e.name === 'SIGABRT',
    ]);
    expect(at.every((i) => i >= 0)).toBe(true);
    expect(w.memory.useAfterFree).toBeUndefined();
  }, 60_000);

  it('a crash in a worker thread: its tid, a NULL fault address, its stack; threads as trace tracks', async () => {
    const file = join(dir.dir, 'threads.json');
    const rec = await CLI.run(['record', '-o', file, '--', compileC(new URL('./c/threads.c', import.meta.url), { flags: [...FLAGS, '-pthread'] })]);
    expectCleanExit(rec);
    const pid = Number(/^Recording pid (\d+) /.exec(rec.stdout)![1]);
    const tid = Number(/^tid (\d+)$/m.exec(rec.stdout)![1]);
    expect(tid).not.toBe(pid);
    expect(rec.stdout).toMatch(new RegExp(`^CRASH DETECTED: SIGSEGV in pid ${pid} \\(tid ${tid}\\) at \\d\\d:\\d\\d:\\d\\d\\.\\d{6} at address 0x0\n {4}next_id\\+0x[0-9a-f]+ \\[threads\\]\n {4}worker\\+0x[0-9a-f]+ \\[threads\\]\n`, 'm'));
    const trace = join(dir.dir, 'threads.trace.json');
    const w = await rewind(file, '--trace', trace);
    expect(w.crash).toMatchObject({ tid, address: '0x0' });
    // the faulting thread's 20 writes, then the crash, in that thread
    const writes = w.events.filter((e) => e.tid === tid && e.name === 'write' && e.details === 'fd=3 count=1 = 1');
    expect(writes).toHaveLength(20);
    expect(inOrder(w.events, [(e) => e === writes[19], (e) => e.type === 'CRASH' && e.tid === tid]).every((i) => i >= 0)).toBe(true);
    const tracks = (JSON.parse(readFileSync(trace, 'utf8')) as { traceEvents: Array<{ name: string; tid: number }> }).traceEvents.filter((e) => e.name === 'thread_name').map((e) => e.tid);
    expect(tracks).toContain(pid);
    expect(tracks).toContain(tid);
    expect(new Set(tracks).size).toBe(3);
  });

  it('a SIGSEGV sent with kill(): reported as sent, by the sender\'s pid, with no fault address', async () => {
    const file = join(dir.dir, 'selfkill.json');
    const rec = await CLI.run(['record', '-o', file, '--', bin('selfkill')]);
    expectCleanExit(rec);
    const pid = Number(/^Recording pid (\d+) /.exec(rec.stdout)![1]);
    expect(rec.stdout).toContain(`sender ${pid}\n`); // the program's own getpid()
    expect(rec.stdout).toMatch(new RegExp(`^CRASH DETECTED: SIGSEGV in pid ${pid} \\(tid ${pid}\\) at \\d\\d:\\d\\d:\\d\\d\\.\\d{6}, sent by pid ${pid} \\(not a fault\\)$`, 'm'));
    expect(rec.stdout).not.toContain('at address');
    const w = await rewind(file);
    expect(w.crash).toMatchObject({ signal: 'SIGSEGV', signalNumber: 11, pid, code: 0, sentBy: pid, seen: 'signal' });
    expect(w.crash!.address).toBeUndefined();
    const crash = w.events.filter((e) => e.type === 'CRASH');
    expect(crash).toHaveLength(1);
    expect(crash[0]).toMatchObject({ name: 'SIGSEGV', sentBy: pid, details: `si_code=0 sent by pid ${pid} fatal, no handler` });
    expect(crash[0]!.address).toBeUndefined();
    // the kill() itself, just before
    expect(inOrder(w.events, [(e) => e.type === 'SYSCALL' && e.name === 'kill' && e.ret === 0, (e) => e === crash[0]]).every((i) => i >= 0)).toBe(true);
    expect(w.memory.useAfterFree).toBeUndefined();
  });

  it('a clean exit: no crash reported, nothing saved', async () => {
    const file = join(dir.dir, 'clean.json');
    const rec = await CLI.run(['record', '-o', file, '--', bin('clean')]);
    expectCleanExit(rec);
    expect(rec.stdout).toMatch(/^Process \d+ exited with status 0: no crash\.$/m);
    expect(rec.stdout).not.toContain('CRASH');
    expect(existsSync(file)).toBe(false);
  });

  it('record --json: one object per line, the crash as it happens', async () => {
    const file = join(dir.dir, 'json.json');
    const rec = await CLI.run(['record', '--json', '-o', file, '--', bin('uaf')]);
    expectCleanExit(rec);
    const objs = rec.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(objs.map((o) => o.event)).toEqual(['recording', 'crash', 'saved']);
    for (const o of objs) {
      expect(Object.keys(o).slice(0, 2)).toEqual(['time', 'elapsed']); // the project's JSON convention
      expect(o.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(typeof o.elapsed).toBe('number');
    }
    expect(objs[1]!.elapsed).toBeGreaterThan(0);
    expect(typeof objs[1]!.timestamp).toBe('string');
    const fault = /^uaf (0x[0-9a-f]+)$/m.exec(rec.stdout)![1]!;
    expect(objs[1]).toMatchObject({ signal: 'SIGSEGV', signalNumber: 11, address: fault, pid: objs[0]!.pid, seen: 'signal' });
    expect(objs[2]).toMatchObject({ file, reason: 'crash', lost: { ring: 0, evicted: 0, stacks: 0 } });
    const clean = await CLI.run(['record', '--json', '--', bin('clean')]);
    expectCleanExit(clean);
    expect(clean.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([
      { time: expect.any(String), elapsed: 0, event: 'recording', pid: expect.any(Number) },
      { time: expect.any(String), elapsed: expect.any(Number), event: 'exit', pid: expect.any(Number), crash: false, exitCode: 0 },
    ]);
  });

  it('the same demo with no bug: no crash', async () => {
    const file = join(dir.dir, 'nobug.json');
    const rec = await CLI.run(['record', '-o', file, '--', bin('uaf'), '0']);
    expectCleanExit(rec);
    expect(rec.stdout).toMatch(/^done\n/m);
    expect(rec.stdout).toMatch(/^Process \d+ exited with status 0: no crash\.$/m);
    expect(existsSync(file)).toBe(false);
  });

  it('a leak, saved on SIGUSR2: outstanding blocks with their stack', async () => {
    const file = join(dir.dir, 'leak.json');
    const cli = CLI.spawn(['record', '-o', file, '--', bin('leak')]);
    await cli.waitOutput((s) => s.includes('ready\n'));
    const pid = Number(/^Recording pid (\d+) /.exec(cli.stdout)![1]);
    cli.proc.kill('SIGUSR2');
    const saved = join(dir.dir, 'leak-1.json');
    await cli.waitOutput((s) => s.includes(`Window saved to ${saved} (`));
    process.kill(pid, 'SIGTERM');
    const e = await cli.exited;
    expectCleanExit(e);
    expect(e.stdout).toMatch(new RegExp(`^Process ${pid} was killed by signal 15: no crash\\.$`, 'm'));
    const w = await rewind(saved, '+0');
    expect(w.crash).toBeNull();
    const leaks = w.memory.outstanding.filter((b) => b.size === 1000);
    expect(leaks).toHaveLength(10);
    for (const b of leaks) expect(w.stacks[b.allocated.stack!]![0]).toMatch(/^leak_some\+0x[0-9a-f]+ \[leak\]$/);
    expect(w.events.filter((x) => x.type === 'FREE' && x.name === 'free' && w.events.some((a) => a.type === 'ALLOC' && a.size === 1000 && a.address === x.address))).toHaveLength(10);
  });

  it('record PID, then Ctrl-C: the recorder detaches and ends, the process goes on', async () => {
    const child = start(bin('leak'), [], { stdio: ['ignore', 'pipe', 'inherit'] });
    await child.line('ready');
    const cli = await CLI.start(['record', String(child.pid)], `Recording pid ${child.pid}, keeping the last 30 s. Ctrl-C to end, SIGUSR2 to save the window.`);
    const e = await cli.stop('SIGINT');
    expectCleanExit(e);
    expect(e.stdout).not.toContain('CRASH');
    expect(processAlive(child.pid)).toBe(true);
    child.kill('SIGTERM');
    expect((await child.done).signal).toBe('SIGTERM');
  });

  it("Node's process.abort(): SIGABRT caught at delivery", async () => {
    const file = join(dir.dir, 'node.json');
    // --no-allocs: V8's start makes ~10^5 allocator calls; through uprobes on
    // this shared machine that takes tens of seconds (see the README's costs).
    const rec = await CLI.run(['record', '--no-allocs', '-o', file, '--', process.execPath, '-e', 'setTimeout(() => process.abort(), 50)']);
    expect([rec.code, rec.signal]).toEqual([0, null]);
    expect(rec.stderr).not.toContain('timemachine:'); // Node prints its own stack traces there
    expect(rec.stdout).toMatch(/^CRASH DETECTED: SIGABRT in pid (\d+) \(tid \1\) at \d\d:\d\d:\d\d\.\d{6}$/m);
    const w = await rewind(file);
    expect(w.crash!.signal).toBe('SIGABRT');
    expect(w.events.some((e) => e.type === 'FILE' && e.name === 'execve' && e.path === process.execPath && e.ret === 0)).toBe(true);
    expect(w.events.at(-1)).toMatchObject({ type: 'EXIT', details: expect.stringMatching(/^killed by SIGABRT/) });
  }, 60_000);
});

describe('bad input: one line, exit 2', () => {
  it('record with no target, a bad PID, an unknown command', async () => {
    expect(errorLine(await CLI.run(['record']), 2)).toContain('record needs a PID or a command');
    expect(errorLine(await CLI.run(['record', 'abc']), 2)).toContain("not a PID: 'abc'");
    expect(errorLine(await CLI.run(['record', '--', '/nonexistent/prog']), 2)).toContain("cannot run '/nonexistent/prog'");
  });

  it('rewind of a missing file, a file that is not a window, a bad time', async () => {
    expect(errorLine(await CLI.run(['rewind', '--file', join(dir.dir, 'nope.json')]), 2)).toContain('cannot read');
    expect(errorLine(await CLI.run(['rewind', '--file', '/etc/hostname']), 2)).toContain('cannot read');
    const notWindow = join(dir.dir, 'x.json');
    await run('sh', ['-c', `echo '{"a":1}' > ${notWindow}`]);
    expect(errorLine(await CLI.run(['rewind', '--file', notWindow]), 2)).toContain('is not a timemachine window');
  });
});
