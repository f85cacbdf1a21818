#!/usr/bin/env node
// tcpconnlat: trace TCP active connects and show their latency. Flags and
// output follow BCC's tcpconnlat; --json prints one JSON object per connect.
//
// BCC prints with Python's str formatting:
//   -t      "%-9s" / "%-9.3f" seconds since the first connect printed
//   header  "%-7s %-12s %-2s %-16s %-16s %-5s %s"  (PID COMM IP SADDR DADDR DPORT LAT(ms))
//   row     "%-7d %-12.12s %-2d %-16s %-16s %-5d %.2f"
//   -L      "%-7s %-12s %-2s %-16s %-6s %-16s %-5s %s" (LPORT after SADDR)
// LAT(ms) is the latency in whole µs / 1000.
import { fitComm, fmtFixed, pad } from '@ebpf/core/format';
import { tcpSocketFlags, familyOf, option, runCli, runEventCli, type FlagsOf } from '@ebpf/core/kit';
import { millis, options, tool, type TcpConnect } from './index.js';

const examples = `examples:
    tcpconnlat           # trace all TCP connect()s
    tcpconnlat 1         # trace connection latency slower than 1 ms
    tcpconnlat 0.1       # trace connection latency slower than 100 us
    tcpconnlat -t        # include timestamps
    tcpconnlat -p 181    # only trace PID 181
    tcpconnlat -L        # include LPORT while printing outputs
    tcpconnlat -4        # trace IPv4 family only
    tcpconnlat -6        # trace IPv6 family only
    tcpconnlat --json    # one JSON object per connect`;

const display = { cliOnly: true } as const;

/** Every flag, in BCC's order. */
export const flags = {
  timestamp: option('-t, --timestamp', 'include timestamp on output', undefined, display),
  pid: options.pid,
  lport: option('-L, --lport', 'include LPORT on output', undefined, display),
  ...tcpSocketFlags, // -4 -6 --cgroup --cgroupmap
};
type Flags = FlagsOf<typeof flags>;

/** LAT(ms): whole µs / 1000, two decimals. */
export const latMs = (ns: number): string => fmtFixed(Math.floor(ns / 1000) / 1000, 2);

export function header(f: Flags): string {
  const lport = f.lport ? `${pad('LPORT', 6)} ` : '';
  return `${f.timestamp ? pad('TIME(s)', 9) : ''}${pad('PID', 7)} ${pad('COMM', 12)} ${pad('IP', 2)} ${pad('SADDR', 16)} ${lport}${pad('DADDR', 16)} ${pad('DPORT', 5)} LAT(ms)`;
}

await runCli('tcpconnlat', (argv) =>
  runEventCli(
    {
      name: 'tcpconnlat',
      description: 'Trace TCP connects and show connection latency',
      options: flags,
      args: [{ name: 'min_ms', help: 'minimum duration to trace (ms)', type: millis }],
      examples,
      jsonFlag: { flags: '--json', help: 'print one JSON object per connect' },
      verboseHelp: "print libbpf's debug messages (BCC: the BPF program)",
      tool,
      toOptions: (f, parsed) => ({ ...parsed.options, minMs: parsed.args[0] || undefined, family: familyOf(f) }),
      header,
      row: (f, clock) => (c: TcpConnect) => {
        const ts = f.timestamp ? pad(fmtFixed(clock.sinceFirst((c.timestamp / 1000n) * 1000n), 3), 9) : '';
        const lport = f.lport ? `${pad(String(c.lport), 6)} ` : '';
        return `${ts}${pad(String(c.pid), 7)} ${fitComm(c.comm, 12)} ${pad(String(c.family), 2)} ${pad(c.saddr, 16)} ${lport}${pad(c.daddr, 16)} ${pad(String(c.dport), 5)} ${latMs(c.latNs)}\n`;
      },
    },
    argv,
  ),
);
