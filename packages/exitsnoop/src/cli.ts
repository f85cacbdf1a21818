#!/usr/bin/env node
// exitsnoop: trace process termination. Flags and output follow BCC's
// exitsnoop; --json prints one JSON object per event instead.
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { Session, parsePositiveInt, printError, runEventTool, runMain, commanderExit, commanderOutput } from '@ebpf/core/cli';
import { UsageError, processAlive, setLibbpfVerbose, type Tracer } from '@ebpf/core';
import { exitsnoop, type ExitEvent } from './index.js';
import { formatJson, formatRow, header, wallClock, type Flags } from './output.js';

const examples = `examples:
    exitsnoop                # trace all process termination
    exitsnoop -x             # trace only fails, exclude exit(0)
    exitsnoop -t             # include timestamps (local time)
    exitsnoop --utc          # include timestamps (UTC)
    exitsnoop -p 181         # only trace PID 181 (ends once it has exited)
    exitsnoop --label=exit   # label each output line with 'exit'
    exitsnoop --per-thread   # trace per thread termination
    exitsnoop --json         # one JSON object per event`;

/** A PID naming a live process (a thread group), not one of its threads. */
function parseTgid(flag: string): (value: string) => number {
  const asInt = parsePositiveInt(flag, 4194304);
  return (value: string) => {
    const pid = asInt(value);
    let status: string;
    try {
      status = readFileSync(`/proc/${pid}/status`, 'utf8');
    } catch {
      throw new UsageError(`invalid ${flag} value '${value}': no such process`);
    }
    const tgid = Number(/^Tgid:\s*(\d+)$/m.exec(status)?.[1] ?? pid);
    if (tgid !== pid) throw new UsageError(`invalid ${flag} value '${value}': ${pid} is a thread of process ${tgid}`);
    return pid;
  };
}

export function program(): Command {
  return new Command('exitsnoop')
    .description('Trace all process termination (exit, fatal signal)')
    .addOption(new Option('-t, --timestamp', 'include timestamp (local time default)'))
    .addOption(new Option('--utc', 'include timestamp in UTC (-t implied)'))
    .addOption(new Option('-p, --pid <PID>', 'trace this PID only, and end once it has exited').argParser(parseTgid('-p')))
    .addOption(new Option('--label <LABEL>', "label each line (an empty LABEL prints 'exit')"))
    .addOption(new Option('-x, --failed', 'trace only fails, exclude exit(0)'))
    .addOption(new Option('--per-thread', 'trace per thread termination'))
    .addOption(new Option('--json', 'print one JSON object per event'))
    .addOption(new Option('-v, --verbose', "print libbpf's debug messages"))
    .addHelpText('after', `\n${examples}`)
    .configureOutput(commanderOutput('exitsnoop'))
    .exitOverride(commanderExit);
}

async function main(argv: string[]): Promise<number> {
  const cmd = program();
  cmd.parse(argv);
  const f = cmd.opts<Flags>();
  if (f.utc) f.timestamp = true;
  if (f.verbose) setLibbpfVerbose(true);
  const pid = f.pid;

  const session = new Session({ tool: 'exitsnoop' });
  const wall = wallClock();
  const print = f.json ? (ev: ExitEvent) => formatJson(ev, f, wall) : (ev: ExitEvent) => formatRow(ev, f, wall);
  // With -p the run ends once the process has exited, so its exit must reach
  // us even when -x would hide it: -x is then applied here, not in the kernel.
  let done = false;
  let tracer: Tracer<ExitEvent> | undefined;
  const result = runEventTool({
    session,
    start: () => (tracer = exitsnoop({ pid, failed: f.failed && pid === undefined, perThread: f.perThread })),
    header: f.json ? undefined : header(f),
    format: (ev) => {
      if (done) return '';
      if (pid !== undefined && ev.pid === pid && ev.groupDead) {
        done = true;
        setImmediate(() => session.stop(0)); // after this batch is written
      }
      return f.failed && ev.status === 0 ? '' : print(ev);
    },
  });
  // The process may have exited between parsing -p and attaching: then its
  // exit was never seen and never will be.
  if (pid !== undefined && !processAlive(pid)) {
    tracer?.flush();
    if (!done) {
      printError('exitsnoop', `process ${pid} exited before tracing started`);
      session.stop(1);
    }
  }
  return result;
}

await runMain('exitsnoop', () => main(process.argv), () => process.argv.includes('-v') || process.argv.includes('--verbose'));
