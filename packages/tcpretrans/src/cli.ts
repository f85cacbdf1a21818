#!/usr/bin/env node
// tcpretrans: trace TCP retransmits. Flags and output follow BCC's
// tcpretrans; --json prints one JSON object per retransmit (with -c, per flow).
//
// BCC prints with Python's str formatting:
//   banner  "Tracing retransmits ... Hit Ctrl-C to end"
//   header  "%-8s %-7s %-2s %-20s %1s> %-20s %-4s"  (TIME PID IP LADDR:LPORT T RADDR:RPORT STATE)
//   row     "%-8s %-7d %-2d %-20s %1s> %-20s %s"    (TIME is the local HH:MM:SS when printed)
//   -c, at the end: "\n%-25s %-25s %-10s" (LADDR:LPORT RADDR:RPORT RETRANSMITS), then per flow
//           "%-20s <-> %-20s %10d" with endpoints "[%s]#%d", IPv4 then IPv6, fewest first.
import { UsageError } from '@ebpf/core';
import { pad, padStart } from '@ebpf/core/format';
import { eventJson, tcpSocketFlags, familyOf, option, runCli, runEventCli, type FlagsOf } from '@ebpf/core/kit';
import { FlowCounter, options, tool, type FlowCount, type Retransmit } from './index.js';

const examples = `examples:
    tcpretrans             # trace TCP retransmits
    tcpretrans -c          # count occurred retransmits per flow
    tcpretrans -4          # trace IPv4 family only
    tcpretrans -6          # trace IPv6 family only
    tcpretrans --json      # one JSON object per retransmit`;

/** Every flag, in BCC's order. */
export const flags = {
  lossprobe: option('-l, --lossprobe', 'include tail loss probe attempts (not on this kernel: no tracepoint)', undefined, { cliOnly: true }),
  count: option('-c, --count', 'count occurred retransmits per flow', undefined, { cliOnly: true }),
  ...tcpSocketFlags, // -4 -6 --cgroup --cgroupmap
};
type Flags = FlagsOf<typeof flags>;

const BANNER = 'Tracing retransmits ... Hit Ctrl-C to end';
const ep = (addr: string, port: number) => `${addr}:${port}`;

export function header(f: Flags): string {
  if (f.count) return BANNER;
  return `${BANNER}\n${pad('TIME', 8)} ${pad('PID', 7)} ${pad('IP', 2)} ${pad('LADDR:LPORT', 20)} T> ${pad('RADDR:RPORT', 20)} STATE`;
}

export function countTable(flows: FlowCount[]): string {
  let s = `\n${pad('LADDR:LPORT', 25)} ${pad('RADDR:RPORT', 25)} ${pad('RETRANSMITS', 10)}\n`;
  for (const f of flows) s += `${pad(`[${f.laddr}]#${f.lport}`, 20)} <-> ${pad(`[${f.raddr}]#${f.rport}`, 20)} ${padStart(String(f.retransmits), 10)}\n`;
  return s;
}

const counter = new FlowCounter();
const count = (r: Retransmit) => void counter.add(r);

await runCli('tcpretrans', (argv) =>
  runEventCli(
    {
      name: 'tcpretrans',
      description: 'Trace TCP retransmits',
      options: flags,
      examples,
      jsonFlag: { flags: '--json', help: 'print one JSON object per retransmit (-c: per flow, at the end)' },
      tool,
      toOptions: (f) => ({ family: familyOf(f) }),
      check: (f) => {
        if (f.lossprobe) {
          throw new UsageError('-l: this kernel has no tracepoint at tcp_send_loss_probe() and no kprobes; probes that resend data are shown as retransmits (R)');
        }
      },
      header,
      row: (f, clock) =>
        f.count
          ? (r) => (count(r), '')
          : (r) => `${pad(clock.hms(), 8)} ${pad(String(r.pid), 7)} ${pad(String(r.family), 2)} ${pad(ep(r.laddr, r.lport), 20)} ${r.type}> ${pad(ep(r.raddr, r.rport), 20)} ${r.state}\n`,
      json: (f, clock) =>
        f.count
          ? (r) => void count(r)
          : (r) => eventJson(r, clock),
      started: (f, run) => {
        if (!f.count) return;
        run.onStop(() => {
          const flows = counter.flows();
          run.print(run.json ? flows.map((x) => run.jsonLine(x)).join('') : countTable(flows));
        });
      },
    },
    argv,
  ),
);
