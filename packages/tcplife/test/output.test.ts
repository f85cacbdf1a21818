// tcplife's output formatting on its own (no kernel): BCC's format strings
// reproduced on chosen sessions, including the cases a loopback workload
// cannot produce (long IPv6 addresses, odd comms, unknown owners).
import { describe, it, expect } from 'vitest';
import { formatIPv6 } from '@ebpf/core/inet';
import type { TcpSession } from '../src/index.js';
import { Formatter, fitComm, header, kb, ms } from '../src/output.js';

const base: TcpSession = {
  timestamp: 5_000_000_000n,
  pid: 1234,
  comm: 'python3',
  owner: 'task',
  active: true,
  family: 4,
  laddr: '127.0.0.1',
  lport: 56502,
  raddr: '127.0.0.1',
  rport: 42783,
  txBytes: 200_000,
  rxBytes: 3_000,
  durationNs: 201_771_999,
};

describe('rows as BCC prints them', () => {
  it('default layout (values as in BCC\'s own sample: 195 and 2 KB, 201.77 ms)', () => {
    // "%-5d %-10.10s %s%-15s %-5d %-15s %-5d %5d %5d %.2f"
    expect(new Formatter({}).row(base)).toBe('1234  python3    127.0.0.1       56502 127.0.0.1       42783   195     2 201.77\n');
  });

  it('-w: IP column, wider fields', () => {
    // "%-5d %-16.16s %-2s %-26s %-5s %-26s %-5d %6d %6d %.2f"
    expect(new Formatter({ wide: true }).row(base)).toBe(
      '1234  python3          4  127.0.0.1                  56502 127.0.0.1                  42783    195      2 201.77\n',
    );
  });

  it('-s: CSV; a comm with a comma or quote is quoted (BCC would break the line)', () => {
    expect(new Formatter({ csv: true }).row(base)).toBe('1234,python3,4,127.0.0.1,56502,127.0.0.1,42783,195,2,201.77\n');
    expect(new Formatter({ csv: true }).row({ ...base, comm: 'a,b"c' })).toBe(
      '1234,"a,b""c",4,127.0.0.1,56502,127.0.0.1,42783,195,2,201.77\n',
    );
  });

  it('IPv6 addresses longer than the column are printed whole and push the line right, as BCC', () => {
    const v6 = { ...base, family: 6 as const, laddr: '2001:db8:1234:5678:9abc:def0:1:2', raddr: '::1' };
    expect(new Formatter({}).row(v6)).toBe(
      '1234  python3    2001:db8:1234:5678:9abc:def0:1:2 56502 ::1             42783   195     2 201.77\n',
    );
    expect(new Formatter({ wide: true }).row(v6)).toBe(
      '1234  python3          6  2001:db8:1234:5678:9abc:def0:1:2 56502 ::1                        42783    195      2 201.77\n',
    );
  });

  it('COMM is cut to 10 (-w: 16) characters; long PIDs and big numbers overflow their columns', () => {
    const s = { ...base, pid: 4194304, comm: 'a-very-long-comm', txBytes: 2 ** 40, rxBytes: 1023 };
    expect(new Formatter({}).row(s)).toBe('4194304 a-very-lon 127.0.0.1       56502 127.0.0.1       42783 1073741824     0 201.77\n');
    expect(new Formatter({ wide: true }).row(s).slice(0, 28)).toBe('4194304 a-very-long-comm 4  ');
  });

  it('comm: widths count characters; control characters are escaped, never cut in half', () => {
    expect(fitComm('héllo✓', 10)).toBe('héllo✓    ');
    expect(fitComm('😀abcdefghijk', 10)).toBe('😀abcdefghi');
    expect(fitComm('ab\ncd', 10)).toBe('ab\\ncd    ');
    expect(fitComm('abcdefgh\x1bz', 10)).toBe('abcdefgh  '); // "\x1b" does not fit: dropped whole
    expect(fitComm('abcdefghij', 10)).toBe('abcdefghij');
  });

  it('an unknown owner prints pid 0 and comm "?"', () => {
    expect(new Formatter({}).row({ ...base, pid: 0, comm: '', owner: 'unknown' }).slice(0, 17)).toBe('0     ?          ');
  });

  it('KB: integer-truncated; MS: whole microseconds / 1000, rounded as Python\'s %.2f', () => {
    expect([kb(0), kb(1023), kb(1024), kb(300_000), kb(50_000), kb(3071)]).toEqual([0, 0, 1, 292, 48, 2]);
    expect(ms(0)).toBe('0.00');
    expect(ms(999)).toBe('0.00'); // under a microsecond
    expect(ms(201_235_000)).toBe('201.24'); // Python: '%.2f' % (201235 / 1000)
    expect(ms(1_125_000)).toBe('1.12'); // an exact tie (1.125) rounds to even, as Python
    expect(ms(86_400_000_000_000)).toBe('86400000.00');
  });
});

describe('headers and prefixes', () => {
  it('each layout, with -T and -t, exactly as BCC', () => {
    expect(header({})).toBe('PID   COMM       LADDR           LPORT RADDR           RPORT TX_KB RX_KB MS');
    expect(header({ wide: true })).toBe(
      'PID   COMM             IP LADDR                      LPORT RADDR                      RPORT  TX_KB  RX_KB MS',
    );
    expect(header({ csv: true })).toBe('PID,COMM,IP,LADDR,LPORT,RADDR,RPORT,TX_KB,RX_KB,MS');
    expect(header({ time: true, timestamp: true })).toBe(`TIME     TIME(s)   ${header({})}`);
    expect(header({ time: true, timestamp: true, csv: true })).toBe(`TIME,TIME(s),${header({ csv: true })}`);
    expect(header({ csv: true, wide: true })).toBe(header({ csv: true })); // -s wins, as in BCC
  });

  it('-t counts from the first session ("%-9.6f "), -T is HH:MM:SS ("%-8s ")', () => {
    const f = new Formatter({ time: true, timestamp: true });
    const a = f.row(base);
    const b = f.row({ ...base, timestamp: base.timestamp + 12_500_000_999n });
    expect(a).toMatch(/^\d\d:\d\d:\d\d 0\.000000  1234 /);
    expect(b).toMatch(/^\d\d:\d\d:\d\d 12\.500000 1234 /);
    const c = new Formatter({ timestamp: true, csv: true });
    c.row(base);
    expect(c.row({ ...base, timestamp: base.timestamp + 1_000n })).toMatch(/^0\.000001,1234,/);
  });
});

describe('addresses', () => {
  it('IPv6 as glibc inet_ntop prints it', () => {
    const v6 = (s: string) => {
      // parse a full-form address (8 groups) for the test
      const b = new Uint8Array(16);
      s.split(':').forEach((g, i) => {
        const n = parseInt(g, 16);
        b[2 * i] = n >> 8;
        b[2 * i + 1] = n & 255;
      });
      return formatIPv6(b);
    };
    expect(v6('0:0:0:0:0:0:0:1')).toBe('::1');
    expect(v6('0:0:0:0:0:0:0:0')).toBe('::');
    expect(v6('0:0:0:0:0:ffff:7f00:1')).toBe('::ffff:127.0.0.1');
    expect(v6('fe80:0:0:0:0:0:0:1')).toBe('fe80::1');
    expect(v6('2001:db8:0:1:0:0:0:1')).toBe('2001:db8:0:1::1');
    expect(v6('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1'); // first of two equal runs
    expect(v6('1:0:2:0:3:0:4:0')).toBe('1:0:2:0:3:0:4:0'); // single zero groups stay
  });
});
