// The biosnoop CLI as users run it: a child process printing into a pipe,
// stopped by a signal, while biodio does O_DIRECT I/O whose every request is
// known, on loop devices the test makes (never a real disk). Rows are the
// workload's by their PID column; under -d LOOP every row is the loop's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMM, dio, loopDevice, seqReads, type Io, type Loop } from './helpers.js';
import { expectJsonLine } from '../../../test/support/json.js';
import { AS_NOBODY, errorLine, expectCleanExit, expectHelp, pidAt, throughHead, tool, type Cli } from '../../../test/support/cli.js';

// BCC: "%-11s %-14s %-7s %-9s %-1s %-10s %-7s" then [P ] [QUE(ms) ] LAT(ms)
const HEADER = 'TIME(s)     COMM           PID     DISK      T SECTOR     BYTES  LAT(ms)';
const HEADER_Q = 'TIME(s)     COMM           PID     DISK      T SECTOR     BYTES  QUE(ms) LAT(ms)';
const HEADER_P = 'TIME(s)     COMM           PID     DISK      T SECTOR     BYTES  P LAT(ms)';
const HEADER_T = 'TIMESTAMP    COMM           PID     DISK      T SECTOR     BYTES  LAT(ms)';
const PID_AT = 27; // TIME(s) and COMM, and their spaces
const CLI = tool(new URL('../dist/cli.js', import.meta.url), { ready: HEADER, pidColumn: PID_AT });
const MS = /^ *\d+\.\d\d$/; // %7.2f

let loop: Loop;
let other: Loop;
beforeAll(() => {
  loop = loopDevice();
  other = loopDevice('mq-deadline');
});
afterAll(() => {
  loop?.cleanup();
  other?.cleanup();
});

/**
 * The row BCC prints for `io` (Python's "%-11.6f %-14.14s %-7s %-9s %-1s
 * %-10s %-7s" [P] [QUE] "%7.2f"), with the times the row has: they are
 * measured, and checked for their format here.
 */
function bccRow(row: string, io: Io, pid: number, disk: string, opts: { q?: boolean; p?: string; t?: boolean } = {}): string {
  const time = opts.t ? row.slice(0, 12) : row.slice(0, 11);
  expect(time).toMatch(opts.t ? /^\d\d:\d\d:\d\d\.\d{3}$/ : /^\d+\.\d{6} *$/);
  const lat = row.slice(-7);
  expect(lat).toMatch(MS);
  let r = `${time} ${COMM.padEnd(14)} ${String(pid).padEnd(7)} ${disk.padEnd(9)} ${io.type} `;
  r += `${String(io.sector).padEnd(10)} ${String(io.bytes).padEnd(7)}`;
  if (opts.p !== undefined) r += `${opts.p} `;
  if (opts.q) {
    const que = row.slice(-15, -8);
    expect(que).toMatch(MS);
    r += `${que} `;
  }
  return r + lat;
}

/** Runs biodio on `l` while `cli` traces; the rows of its pid once there is one per I/O (in completion order: the order done). */
async function rowsOf(cli: Cli, l: Loop, writes = 10, reads = 10, pidColumn = PID_AT) {
  const { pid, ios } = await dio(l, writes, reads);
  const rows = await cli.waitRows(pid, ios.length, pidColumn);
  return { pid, ios, rows };
}

describe('output format', () => {
  it("default: BCC's header, and one row per I/O with the issuing PID, disk, R/W, sector, bytes, latency", async () => {
    const cli = await CLI.start([]);
    const { pid, ios, rows } = await rowsOf(cli, loop);
    const e = await cli.stop('SIGINT');
    expectCleanExit(e);
    expect(cli.rows(pid)).toHaveLength(ios.length); // no more rows than I/Os
    rows.forEach((r, i) => expect(r).toBe(bccRow(r, ios[i]!, pid, loop.disk)));
    const lines = e.stdout.split('\n');
    expect(lines[0]).toBe(HEADER);
    expect(lines[1]).toMatch(/^0\.000000 {4}/); // TIME(s): seconds since the first I/O printed
    const times = lines.slice(1, -1).map((r) => Number(r.slice(0, 11)));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
  });

  it('-Q: the QUE(ms) column before LAT(ms)', async () => {
    const cli = await CLI.start(['-Q'], HEADER_Q);
    for (const l of [loop, other]) {
      const { pid, ios, rows } = await rowsOf(cli, l);
      rows.forEach((r, i) => expect(r).toBe(bccRow(r, ios[i]!, pid, l.disk, { q: true })));
    }
    expectCleanExit(await cli.stop());
  });

  it('-P -d LOOP: the P column: ? for the first I/O on the disk, S for sequential reads, R for a stride; no other disk', async () => {
    const cli = await CLI.start(['-P', '-d', other.disk], HEADER_P);
    const seq = await seqReads(other, 10);
    const rows = await cli.waitRows(seq.pid, 10);
    rows.forEach((r, i) => expect(r).toBe(bccRow(r, seq.ios[i]!, seq.pid, other.disk, { p: i === 0 ? '?' : 'S' })));
    const strided = await rowsOf(cli, other);
    strided.rows.forEach((r, i) => expect(r).toBe(bccRow(r, strided.ios[i]!, strided.pid, other.disk, { p: 'R' })));
    const elsewhere = await dio(loop, 5, 0);
    const last = await seqReads(other, 1); // after the other disk's I/O
    await cli.waitRows(last.pid, 1);
    const e = await cli.stop();
    expectCleanExit(e);
    expect(cli.rows(elsewhere.pid)).toEqual([]);
    expect(cli.lines().slice(1).every((l) => l.split(/ +/)[3] === other.disk)).toBe(true);
  });

  it('-t: a TIMESTAMP column (HH:MM:SS.mmm) instead of TIME(s)', async () => {
    const cli = await CLI.start(['-t'], HEADER_T);
    const { pid, ios, rows } = await rowsOf(cli, loop, 5, 5, PID_AT + 1);
    rows.forEach((r, i) => expect(r).toBe(bccRow(r, ios[i]!, pid, loop.disk, { t: true })));
    expectCleanExit(await cli.stop());
  });

  it('-m: only I/O at least that slow', async () => {
    const cli = await CLI.start(['-m', '60000', '-d', loop.disk]);
    const all = await CLI.start(['-d', loop.disk]);
    const { pid, ios } = await dio(loop, 5, 5);
    await all.waitRows(pid, ios.length); // done and traced
    const last = await seqReads(loop, 1);
    await all.waitRows(last.pid, 1);
    expectCleanExit(await all.stop());
    const e = await cli.stop();
    expectCleanExit(e);
    expect(e.stdout).toBe(`${HEADER}\n`);
  });

  it('--json: one object per I/O, with the operation and flags by name', async () => {
    const t0 = Date.now();
    // No header in JSON mode: ready once it holds its links (io_start, issue, requeue, merge, complete).
    const cli = await CLI.start(['--json', '-Q', '-P', '-d', loop.disk], { links: 5 });
    const { pid, ios } = await dio(loop, 10, 10);
    await cli.waitOutput(() => cli.lines().filter((l) => JSON.parse(l).pid === pid).length >= ios.length);
    expectCleanExit(await cli.stop());
    const objs = cli.lines().map((l) => expectJsonLine(l) as any);
    const mine = objs.filter((o) => o.pid === pid);
    expect(mine).toHaveLength(ios.length);
    expect(objs).toEqual(mine); // -d: nothing but the loop device, which only this test uses
    mine.forEach((o, i) => {
      const io = ios[i]!;
      expect(Object.keys(o).sort()).toEqual(['bytes', 'comm', 'disk', 'elapsed', 'flags', 'latencyNs', 'op', 'pattern', 'pid', 'queueNs', 'sector', 'time', 'timestamp', 'type']);
      expect(o).toMatchObject({ comm: COMM, pid, disk: { name: loop.disk }, type: io.type, sector: io.sector, bytes: io.bytes });
      expect(typeof o.disk.major).toBe('number');
      expect([o.op, o.flags]).toEqual(io.type === 'W' ? ['Write', ['Idle', 'Sync']] : ['Read', ['Sync']]);
      expect(o.pattern).toBe(i === 0 ? 'unknown' : 'random');
      expect(o.latencyNs).toBeGreaterThan(0);
      expect(o.queueNs).toBeGreaterThanOrEqual(0);
      expect(Date.parse(o.time)).toBeGreaterThanOrEqual(t0 - 1000);
      expect(o.elapsed).toBeGreaterThan(0);
    });
    for (let i = 1; i < mine.length; i++) expect(BigInt(mine[i].timestamp)).toBeGreaterThanOrEqual(BigInt(mine[i - 1].timestamp));
  });
});

describe('endings', () => {
  for (const signal of ['SIGTERM', 'SIGHUP'] as const) {
    it(`${signal}: every row printed, exit 0`, async () => {
      const cli = await CLI.start(['-d', loop.disk]);
      const { pid, ios } = await dio(loop, 5, 5);
      await cli.waitRows(pid, ios.length);
      const e = await cli.stop(signal);
      expectCleanExit(e);
      expect(e.stdout.split('\n').filter(pidAt(pid, PID_AT))).toHaveLength(ios.length);
    });
  }

  it('--duration: ends by itself, status 0', async () => {
    const cli = await CLI.start(['--duration', '1', '-d', loop.disk]);
    const e = await cli.exited;
    expectCleanExit(e);
    expect(e.stdout.split('\n')[0]).toBe(HEADER);
  });

  it('a closed pipe (| head -n 2) ends the run by itself, status 0', async () => {
    const p = await throughHead(CLI.path, ['-d', loop.disk], () => dio(loop, 2, 0));
    expect(p.ended).toBe(true);
    expect(p.status).toEqual([0, null]);
    const lines = p.out.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe(HEADER);
    expect(lines[1]).toMatch(new RegExp(`^0\\.000000 {4}biodio +\\d+ +${loop.disk} +W 0 +4096 +\\d+\\.\\d\\d$`));
    expect(p.stderr).toBe('');
  });
});

describe('errors and help', () => {
  it('-d with a disk that does not exist: one line, exit 2', async () => {
    expect(errorLine(await CLI.run(['-d', 'nosuchdisk']), 2)).toBe("biosnoop: no such disk 'nosuchdisk'");
  });

  for (const args of [['-m', '-1'], ['-m', 'abc'], ['--duration', '0'], ['--bogus'], ['-d'], ['extra']]) {
    it(`bad usage ${args.join(' ')}: exit 2, one line on stderr`, async () => {
      expect(errorLine(await CLI.run(args), 2)).toMatch(/^biosnoop: \S/);
    });
  }

  it('not root: exit 1, one line saying root is needed', async () => {
    expect(errorLine(await CLI.run([], { wrap: AS_NOBODY }), 1)).toMatch(/^biosnoop: .*root/);
  });

  it('--help: exit 0, every flag listed', async () => {
    expectHelp(await CLI.run(['--help']), 'Usage: biosnoop [options]', [
      '-Q, --queue',
      '-d, --disk <DISK>',
      '-P, --pattern',
      '-t, --timestamp',
      '-m, --min <MIN>',
      '--duration <SECONDS>',
      '--json',
      '-h, --help',
    ]);
  });
});
