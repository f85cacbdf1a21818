// tcpstates' rows without the kernel: records built byte by byte, printed
// by the byte-level writer (Formatter.fast) and by the decoded path
// (decodeChange → Formatter.row), which must agree in every layout; and the
// row against Python's own formatting of BCC's format strings.
import { execFileSync } from 'node:child_process';
import { describe, it, expect } from 'vitest';
import { RowBuffer } from '@ebpf/core/kit';
import { TCP_OWNER } from '@ebpf/core/inet';
import { decodeChange } from '../src/index.js';
import { Formatter, header, ms, type Flags } from '../src/output.js';
import { EVENT_OFFSETS as AT, EVENT_SIZE, F_SPAN } from '../src/tcpstates.gen.js';

interface Rec {
  skaddr?: bigint;
  pid?: number;
  comm?: string;
  owner?: number;
  family?: number;
  laddr?: number[];
  raddr?: number[];
  lport?: number;
  rport?: number;
  old?: number;
  new?: number;
  span?: bigint;
}

/** A ring record, at offset 8 of a larger buffer (as records sit in a batch). */
function record(r: Rec): DataView {
  const buf = new ArrayBuffer(8 + EVENT_SIZE + 8);
  const v = new DataView(buf, 0);
  const o = 8;
  v.setBigUint64(o + AT.ts, 5_000_000_000n, true);
  v.setBigUint64(o + AT.skaddr, r.skaddr ?? 0xffff88812b360000n, true);
  v.setBigUint64(o + AT.span_ns, r.span ?? 0n, true);
  v.setUint8(o + AT.flags, r.span === undefined ? 0 : F_SPAN);
  v.setUint32(o + AT.pid, r.pid ?? 4242, true);
  v.setUint8(o + AT.owner, r.owner ?? TCP_OWNER.TASK);
  v.setUint16(o + AT.family, r.family ?? 2, true);
  v.setUint16(o + AT.lport, r.lport ?? 40653, true);
  v.setUint16(o + AT.rport, r.rport ?? 80, true);
  v.setUint8(o + AT.oldstate, r.old ?? 2);
  v.setUint8(o + AT.newstate, r.new ?? 1);
  new Uint8Array(buf, o + AT.laddr, 16).set(r.laddr ?? [127, 0, 0, 1]);
  new Uint8Array(buf, o + AT.raddr, 16).set(r.raddr ?? [10, 1, 2, 3]);
  new Uint8Array(buf, o + AT.comm, 16).set(Buffer.from(r.comm ?? 'curl'));
  return v;
}

/** What fast() writes for a record (undefined: it declined), and what row() prints. */
function both(f: Flags, r: Rec): { fast: string | undefined; row: string } {
  const view = record(r);
  let out = '';
  const rows = new RowBuffer((chunk) => ((out += chunk.toString()), true));
  const ok = new Formatter(f).fast(view, 8, EVENT_SIZE, rows);
  rows.flush();
  return { fast: ok ? out : undefined, row: new Formatter(f).row(decodeChange(view, 8, EVENT_SIZE)) };
}

const V6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const LAYOUTS: Flags[] = [{}, { wide: true }, { csv: true }, { csv: true, wide: true }];
const RECORDS: Rec[] = [
  {},
  { span: 1_234_567n },
  { span: 999n },
  { span: 86_400_000_000_000n + 5_000n }, // a day in the state
  { family: 10, laddr: V6, raddr: [...Array(15).fill(0), 1], old: 10, new: 7 },
  { owner: TCP_OWNER.NONE, pid: 0, comm: '' },
  { skaddr: 0xabcn },
  { skaddr: 0x100000000n },
  { old: 13, new: 200 },
  { comm: 'a-long-command-n', lport: 0, rport: 65535, laddr: [0, 0, 0, 0], raddr: [255, 255, 255, 255] },
];

describe('fast rows', () => {
  for (const f of LAYOUTS) {
    it(`are the decoded rows, byte for byte: ${JSON.stringify(f)}`, () => {
      for (const r of RECORDS) {
        const { fast, row } = both(f, r);
        expect(fast, JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? String(v) : v))).toBe(row);
      }
    });
  }

  it('decline what needs escaping or quoting (the decoded path handles it)', () => {
    expect(both({}, { comm: 'a\nb' }).fast).toBe(undefined);
    expect(both({ csv: true }, { comm: 'a,b' }).fast).toBe(undefined);
    expect(both({}, { comm: 'a\nb' }).row).toContain(' a\\nb       ');
    expect(both({ csv: true }, { comm: 'a,b' }).row).toContain(',"a,b",');
  });
});

describe('BCC format strings', () => {
  it('rows and headers are what Python prints for them', () => {
    const py = `
import sys
from socket import inet_ntop, AF_INET, AF_INET6
for wide, csv in [(0,0),(1,0),(0,1)]:
    h = "%-16s %-5s %-10.10s %s%-15s %-5s %-15s %-5s %-11s -> %-11s %s"
    f = "%-16x %-5d %-10.10s %s%-15s %-5d %-15s %-5d %-11s -> %-11s %.3f"
    if wide:
        h = "%-16s %-5s %-16.16s %-2s %-26s %-5s %-26s %-5s %-11s -> %-11s %s"
        f = "%-16x %-5d %-16.16s %-2s %-26s %-5s %-26s %-5d %-11s -> %-11s %.3f"
    if csv:
        h = "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s"
        f = "%x,%d,%s,%s,%s,%s,%s,%d,%s,%s,%.3f"
    ip = lambda v: v if wide or csv else ""
    print(h % ("SKADDR", "C-PID", "C-COMM", ip("IP"), "LADDR", "LPORT", "RADDR", "RPORT", "OLDSTATE", "NEWSTATE", "MS"))
    print(f % (0xffff88812b360000, 4242, "a-long-command-n", ip("4"), "127.0.0.1", 40653, "10.1.2.3", 80, "SYN_SENT", "ESTABLISHED", 1234 / 1000))
    print(f % (0xffff88812b360000, 4242, "curl", ip("6"), "2001:db8::1", 40653, "::1", 80, "LISTEN", "CLOSE", 0))
`;
    const expected = execFileSync('python3', ['-c', py], { encoding: 'utf8' });
    let ours = '';
    for (const f of LAYOUTS.slice(0, 3)) {
      ours += `${header(f)}\n`;
      ours += both(f, { comm: 'a-long-command-n', span: 1_234_999n }).row;
      ours += both(f, { family: 10, laddr: V6, raddr: [...Array(15).fill(0), 1], old: 10, new: 7 }).row;
    }
    expect(ours).toBe(expected);
  });

  it('MS: whole microseconds / 1000, three decimals; 0.000 when not known', () => {
    expect([ms(undefined), ms(0), ms(999), ms(1000), ms(1_234_999), ms(86_400_000_000_000)]).toEqual(['0.000', '0.000', '0.000', '0.001', '1.234', '86400000.000']);
  });

  it('-T and -t prefixes: TIME and TIME(s), "%-8s " and "%-9.6f " (CSV: no padding)', () => {
    expect(header({ time: true, timestamp: true }).slice(0, 19)).toBe('TIME     TIME(s)   ');
    expect(header({ time: true, timestamp: true, csv: true }).slice(0, 13)).toBe('TIME,TIME(s),');
    const f = new Formatter({ timestamp: true });
    expect(f.row(decodeChange(record({}), 8, EVENT_SIZE)).slice(0, 10)).toBe('0.000000  ');
  });
});
