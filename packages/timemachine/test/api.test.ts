// The typed API: record a running process by PID, get its crash as it
// happens and the window saved; a window bounded in size, with what it
// dropped counted.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/support/tmp.js';
import { compileC, killChildren, start } from '../../../test/support/workload.js';
import { analyzeMemory, record, type Crash, type Recorder, type Window } from '../src/index.js';

const bin = (name: string): string => compileC(new URL(`./c/${name}.c`, import.meta.url), { flags: ['-O0', '-g', '-fno-omit-frame-pointer'] });
const dir = tempDir('timemachine-api-');
let rec: Recorder | undefined;
afterEach(async () => {
  await rec?.close();
  rec = undefined;
  await killChildren();
});
afterAll(() => dir.cleanup());

describe('record({ pid })', () => {
  it('a running process: the crash as it happens, then the window, saved', async () => {
    const child = start(bin('uaf'), ['42', 'wait'], { stdio: ['ignore', 'pipe', 'inherit'] });
    await child.line('waiting');
    const output = join(dir.dir, 'pid.json');
    rec = await record({ pid: child.pid, output });
    const seen: Crash[] = [];
    rec.onCrash((c) => seen.push(c));
    child.kill('SIGUSR1');
    const fault = (await child.line((l) => l.startsWith('uaf '))).slice(4);
    const w = await rec.crashed;
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ signal: 'SIGSEGV', signalNumber: 11, pid: child.pid, address: fault });
    expect(seen[0]!.frames[0]).toMatch(/^log_request\+0x[0-9a-f]+ \[uaf\]$/);
    expect((await rec.exited) & 0x7f).toBe(11); // killed by SIGSEGV (as wait() reports it; 0x80: core dumped, where core dumps are on)
    expect(rec.savedTo).toBe(output);
    const saved = JSON.parse(readFileSync(output, 'utf8')) as Window;
    expect(saved.crash).toEqual(w.crash);
    expect(saved.events.length).toBe(w.events.length);
    expect(saved.reason).toBe('crash');
    const m = analyzeMemory(w.events, w.crash);
    expect(m.useAfterFree).toMatchObject({ offset: 100, size: 256 * 1024, address: `0x${(BigInt(fault) - 100n).toString(16)}` });
    expect(m.allocations).toBeGreaterThanOrEqual(42); // and printf's buffer
    expect(w.events.filter((e) => e.type === 'ALLOC' && e.size === 256 * 1024)).toHaveLength(42);
  });

  it('exit codes of the exits that are not crashes; output "" keeps the window in memory', async () => {
    const child = start(bin('uaf'), ['0', 'wait'], { stdio: ['ignore', 'pipe', 'inherit'] });
    await child.line('waiting');
    rec = await record({ pid: child.pid, output: '' });
    child.kill('SIGUSR1');
    expect(await rec.exited).toBe(0);
    expect(rec.crash).toBeUndefined();
    const w = rec.window();
    expect(w.reason).toBe('request');
    expect(w.events.filter((e) => e.type === 'FUNC_ENTRY')).toHaveLength(0);
    expect(w.events.filter((e) => e.type === 'FREE' && e.name === 'free' && w.events.some((a) => a.type === 'ALLOC' && a.size === 256 * 1024 && a.address === e.address))).toHaveLength(60);
    expect(w.events.at(-1)).toMatchObject({ type: 'EXIT', details: 'status 0' });
    expect(existsSync(join(process.cwd(), `timemachine-${child.pid}.json`))).toBe(false);
  });
});

describe('the window', () => {
  it('bounded by size: the oldest records go, and are counted', async () => {
    const n = 200_000; // 72 bytes each: ~14 MB of getppid() records into a 2 MiB window
    rec = await record({ command: [bin('spin'), String(n)], windowBytes: 2 * 2 ** 20, output: '', allocs: false });
    expect(await rec.exited).toBe(0);
    const lost = rec.lost();
    expect(lost.ring).toBe(0);
    expect(lost.evicted).toBeGreaterThan(0);
    const w = rec.window();
    const getppid = w.events.filter((e) => e.name === 'getppid').length;
    expect(getppid).toBeLessThan(n);
    expect(getppid).toBeGreaterThan(n / 20);
    // the newest are kept: the last getppid() calls, then exit_group, then the exit
    expect(w.events.slice(-3).map((e) => e.name)).toEqual(['getppid', 'exit_group', 'exit']);
    // every record is either held or counted as evicted: at least the n calls
    expect(rec.held + lost.evicted).toBeGreaterThanOrEqual(n);
  }, 60_000);
});
