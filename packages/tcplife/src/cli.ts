#!/usr/bin/env node
// tcplife: trace the lifespan of TCP sessions. Flags and output follow BCC's
// tcplife; --json prints one JSON object per session instead.
import { Command, Option } from 'commander';
import { Session, parsePid, runEventTool, runMain, commanderExit, commanderOutput } from '@ebpf/core/cli';
import { UsageError, setLibbpfVerbose } from '@ebpf/core';
import { tcplife, type TcplifeTracer } from './index.js';
import { Formatter, formatJson, header, type Flags } from './output.js';

const examples = `examples:
    tcplife           # trace all TCP connect()s
    tcplife -T        # include time column (HH:MM:SS)
    tcplife -w        # wider columns (fit IPv6)
    tcplife -stT      # csv output, with times & timestamps
    tcplife -p 181    # only trace PID 181
    tcplife -L 80     # only trace local port 80
    tcplife -L 80,81  # only trace local ports 80 and 81
    tcplife -D 80     # only trace remote port 80
    tcplife -4        # only trace IPv4 family
    tcplife -6        # only trace IPv6 family
    tcplife --json    # one JSON object per session`;

/** A comma-separated list of ports (BCC: "80,81"). */
export function parsePorts(flag: string): (value: string) => number[] {
  return (value: string) => {
    const ports = value.split(',').map((p) => p.trim());
    for (const p of ports) {
      const n = Number(p);
      if (!/^\d+$/.test(p) || n < 1 || n > 65535) {
        throw new UsageError(`invalid ${flag} value '${value}': expected comma-separated ports from 1 to 65535`);
      }
    }
    return ports.map(Number);
  };
}

interface CliFlags extends Flags {
  pid?: number;
  localport?: number[];
  remoteport?: number[];
  ipv4?: boolean;
  ipv6?: boolean;
  verbose?: boolean;
}

export function program(): Command {
  return new Command('tcplife')
    .description('Trace the lifespan of TCP sessions and summarize')
    .addOption(new Option('-T, --time', 'include time column on output (HH:MM:SS)'))
    .addOption(new Option('-t, --timestamp', 'include timestamp on output (seconds)'))
    .addOption(new Option('-w, --wide', 'wide column output (fits IPv6 addresses)'))
    .addOption(new Option('-s, --csv', 'comma separated values output'))
    .addOption(new Option('-p, --pid <PID>', 'trace this PID only').argParser(parsePid('-p')))
    .addOption(new Option('-L, --localport <LPORTS>', 'comma-separated list of local ports to trace.').argParser(parsePorts('-L')))
    .addOption(new Option('-D, --remoteport <RPORTS>', 'comma-separated list of remote ports to trace.').argParser(parsePorts('-D')))
    .addOption(new Option('-4, --ipv4', 'trace IPv4 family only').conflicts('ipv6'))
    .addOption(new Option('-6, --ipv6', 'trace IPv6 family only').conflicts('ipv4'))
    .addOption(new Option('--json', 'print one JSON object per session'))
    .addOption(new Option('-v, --verbose', "print libbpf's debug messages"))
    .addHelpText('after', `\n${examples}`)
    .configureOutput(commanderOutput('tcplife'))
    .exitOverride(commanderExit);
}

async function main(argv: string[]): Promise<number> {
  const cmd = program();
  cmd.parse(argv);
  const f = cmd.opts<CliFlags>();
  if (f.verbose) setLibbpfVerbose(true);

  const startNs = process.hrtime.bigint();
  const formatter = new Formatter(f);
  const session = new Session({ tool: 'tcplife' });
  let tracer: TcplifeTracer | undefined;
  const done = runEventTool({
    session,
    start: () =>
      (tracer = tcplife({
        pid: f.pid,
        localPorts: f.localport,
        remotePorts: f.remoteport,
        family: f.ipv4 ? 4 : f.ipv6 ? 6 : undefined,
      })),
    header: f.json ? undefined : header(f),
    format: f.json ? (s) => formatJson(s, startNs) : (s) => formatter.row(s),
  });
  // Sessions the kernel side could not follow (its table was full) are lost too.
  const t = tracer!;
  session.setLost(() => t.lost().ring + t.untracked());
  return done;
}

await runMain('tcplife', () => main(process.argv), () => process.argv.includes('-v') || process.argv.includes('--verbose'));
