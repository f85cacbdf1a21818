// exitsnoop's output, without the kernel: BCC's columns (checked against
// Python running BCC's own format strings where Python is here), the
// EXIT_CODE texts, the time column, the zone name in the -t header, --json.
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import type { ExitEvent } from '../src/index.js';
import { decodeStatus } from '../src/index.js';
import { BatchClock } from '@ebpf/core/kit';
import { clock, exitReason, formatRow, header, jsonObject, zoneName } from '../src/output.js';
import { hasCommand } from '../../../test/support/workload.js';

function event(status: number, over: Partial<ExitEvent> = {}): ExitEvent {
  return {
    timestamp: 0n,
    pid: 10506,
    tid: 10506,
    ppid: 10493,
    comm: 'bash',
    cgroupId: 4242n,
    ageNs: 4_000_000n,
    ageSeconds: 0.004,
    status,
    ...decodeStatus(status),
    groupDead: true,
    ...over,
  };
}

const wall = () => new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6));

describe('EXIT_CODE column', () => {
  it('0, code N, signal N (NAME), core dumped without a trailing space', () => {
    expect(exitReason(event(0))).toBe('0');
    expect(exitReason(event(3 << 8))).toBe('code 3');
    expect(exitReason(event(255 << 8))).toBe('code 255');
    expect(exitReason(event(9))).toBe('signal 9 (KILL)');
    expect(exitReason(event(15))).toBe('signal 15 (TERM)');
    expect(exitReason(event(0x80 | 11))).toBe('signal 11 (SEGV), core dumped');
    expect(exitReason(event(0x80 | 6))).toBe('signal 6 (ABRT), core dumped');
  });

  it('every signal named: USR1, USR2, IO (BCC: unknown, unknown, POLL), real-time ones', () => {
    expect(exitReason(event(10))).toBe('signal 10 (USR1)');
    expect(exitReason(event(12))).toBe('signal 12 (USR2)');
    expect(exitReason(event(29))).toBe('signal 29 (IO)');
    expect(exitReason(event(31))).toBe('signal 31 (SYS)');
    expect(exitReason(event(34))).toBe('signal 34 (RTMIN)');
    expect(exitReason(event(40))).toBe('signal 40 (RTMIN+6)');
    expect(exitReason(event(60))).toBe('signal 60 (RTMAX-4)');
    expect(exitReason(event(64))).toBe('signal 64 (RTMAX)');
    expect(exitReason(event(100))).toBe('signal 100 (unknown)');
    for (let n = 1; n <= 64; n++) expect(exitReason(event(n))).not.toContain('unknown');
  });
});

describe('columns', () => {
  it('headers as BCC builds them, without its trailing space', () => {
    expect(header({})).toBe('PCOMM            PID     PPID    TID     AGE(s)  EXIT_CODE');
    expect(header({ timestamp: true, utc: true, label: '' })).toBe(
      'TIME-UTC     LABEL PCOMM            PID     PPID    TID     AGE(s)  EXIT_CODE',
    );
    expect(header({ label: 'x' })).toBe('LABEL PCOMM            PID     PPID    TID     AGE(s)  EXIT_CODE');
  });

  it('rows: "%-16s %-7d %-7d %-7d %-7.2f " then the reason', () => {
    expect(formatRow(event(3 << 8), {}, wall)).toBe('bash             10506   10493   10506   0.00    code 3\n');
    expect(formatRow(event(0x80 | 11, { ageSeconds: 12345.678 }), {}, wall)).toBe(
      'bash             10506   10493   10506   12345.68 signal 11 (SEGV), core dumped\n',
    );
    expect(formatRow(event(0), { timestamp: true, utc: true, label: '' }, wall)).toBe(
      '03:04:05.006 exit  bash             10506   10493   10506   0.00    0\n',
    );
    // a label of 6 or more keeps a space before PCOMM (BCC runs them together)
    expect(formatRow(event(0), { label: 'EXITED' }, wall)).toBe('EXITED bash             10506   10493   10506   0.00    0\n');
    // control characters in a name cannot break the line
    expect(formatRow(event(0, { comm: 'a\nb' }), {}, wall)).toBe('a\\nb             10506   10493   10506   0.00    0\n');
  });

  it.skipIf(!hasCommand('python3'))("match Python running BCC's format strings (ages rounded as Python does)", () => {
    const rows: Array<[string, number, number, number, number, string]> = [
      ['bash', 10506, 10493, 10506, 0.004, 'code 3'],
      ['sleep', 1, 0, 4194304, 0.125, 'signal 9 (KILL)'],
      ['x', 123, 45, 678, 0.375, '0'],
      ['sixteen-chars-xx', 4194304, 4194304, 4194304, 99999.995, 'signal 6 (ABRT), core dumped'],
      ['j', 7, 7, 7, 2.675, 'code 1'],
    ];
    const py = execFileSync(
      'python3',
      ['-c', 'import json,sys\nfor r in json.loads(sys.argv[1]): print("%-16s %-7d %-7d %-7d %-7.2f " % tuple(r[:5]) + r[5])', JSON.stringify(rows)],
      { encoding: 'utf8' },
    );
    const ours = rows
      .map(([comm, pid, ppid, tid, age, reason]) => {
        const status = reason === '0' ? 0 : reason.startsWith('code') ? Number(reason.slice(5)) << 8 : (reason.includes('core') ? 0x80 : 0) | Number(reason.split(' ')[1]);
        return formatRow(event(status, { comm, pid, ppid, tid, ageSeconds: age }), {}, wall);
      })
      .join('');
    expect(ours).toBe(py);
  });

  it('the time column: HH:MM:SS.mmm, UTC or local', () => {
    const d = new Date(Date.UTC(2024, 6, 1, 23, 59, 58, 999));
    expect(clock(d, true)).toBe('23:59:58.999');
    expect(clock(d, false)).toMatch(/^\d\d:59:58\.999$/);
    expect(clock(new Date(Date.UTC(2024, 0, 1, 0, 0, 0, 5)), true)).toBe('00:00:00.005');
  });

  it('--json: the API event by the convention (time, elapsed first), the label last', () => {
    const c = new BatchClock();
    const ts = c.startNs + 1_500_000_000n;
    const o = JSON.parse(JSON.stringify(jsonObject(event(0x80 | 6, { timestamp: ts, ageSeconds: 1.5, ageNs: 1_500_000_000n }), { label: '' }, c)));
    expect(o).toEqual({
      time: c.wall(ts).toISOString(),
      elapsed: 1.5,
      timestamp: String(ts),
      pid: 10506,
      tid: 10506,
      ppid: 10493,
      comm: 'bash',
      cgroupId: '4242',
      ageNs: '1500000000',
      ageSeconds: 1.5,
      status: 0x86,
      exitCode: null,
      signal: 6,
      signalName: 'SIGABRT',
      coreDumped: true,
      groupDead: true,
      label: 'exit',
    });
    expect(Object.keys(o).slice(0, 3)).toEqual(['time', 'elapsed', 'timestamp']);
    expect(JSON.parse(JSON.stringify(jsonObject(event(7 << 8, { groupDead: false }), { perThread: true }, c)))).toMatchObject({
      exitCode: 7,
      signal: null,
      signalName: null,
      coreDumped: false,
      groupDead: false,
    });
  });

});

describe('zone name in the -t header', () => {
  const zones = ['UTC', '', 'America/New_York', 'Europe/Berlin', 'Asia/Kolkata', 'America/Sao_Paulo', ':Europe/Paris', 'EST5EDT', 'Nowhere/Bogus'];
  // winter and summer instants
  const instants = [Date.UTC(2024, 0, 15, 12), Date.UTC(2024, 6, 15, 12)];
  const outputJs = new URL('../dist/output.js', import.meta.url).href;

  it('what the zone name is without TZ or for UTC', () => {
    expect(zoneName(new Date(), '')).toBe('UTC');
  });

  it.skipIf(!hasCommand('python3'))("matches Python's strftime('%Z') (BCC's header) in every zone, winter and summer", () => {
    // One process each, switching TZ inside (Node and Python's tzset() re-read it).
    const ours = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const m = await import(${JSON.stringify(outputJs)});
         for (const tz of ${JSON.stringify(zones)}) { process.env.TZ = tz;
           console.log(tz + ' ' + ${JSON.stringify(instants)}.map((t) => m.zoneName(new Date(t))).join(' ')); }`,
      ],
      { encoding: 'utf8' },
    );
    const py = execFileSync(
      'python3',
      [
        '-c',
        `import os,time\nfor tz in ${JSON.stringify(zones)}:\n  os.environ["TZ"] = tz; time.tzset()\n` +
          `  print(tz + " " + " ".join(time.strftime("%Z", time.localtime(t / 1000)) for t in ${JSON.stringify(instants)}))`,
      ],
      { encoding: 'utf8' },
    );
    expect(ours).toBe(py);
    expect(ours.split('\n')).toContain('America/New_York EST EDT');
  });

});
