// The two command lines over one tracer:
//   sigsnoop   libbpf-tools sigsnoop's flags and columns (there is no BCC sigsnoop)
//   killsnoop  BCC killsnoop's flags and columns
// Both take --json, which prints the same object per event.
import { Command, Option } from 'commander';
import { Session, parsePid, runEventTool, commanderExit, commanderOutput } from '@ebpf/core/cli';
import { UsageError, setLibbpfVerbose } from '@ebpf/core';
import { parseSignal } from '@ebpf/core/signals';
import { sigsnoop, type SigsnoopOptions } from './index.js';
import { SIGSNOOP_HEADER, formatJson, killsnoopHeader, killsnoopRow, pidWidth, sigsnoopRow } from './output.js';

export type Tool = 'sigsnoop' | 'killsnoop';

/** The parsed flags of either tool. */
export interface Flags {
  failed?: boolean;
  kill?: boolean;
  name?: boolean;
  pid?: number;
  tpid?: number;
  signal?: number;
  comm?: string;
  json?: boolean;
  verbose?: boolean;
}

/** -s: a number 0..64 or a name (SIGUSR1, usr1, SIGRTMIN+2, RTMAX-1). */
export function parseSignalFlag(flag: string): (value: string) => number {
  return (value: string) => {
    const n = parseSignal(value);
    if (n === undefined) {
      throw new UsageError(`invalid ${flag} value '${value}': expected a signal number 0..64 or a name such as SIGUSR1, USR1 or SIGRTMIN+2`);
    }
    return n;
  };
}

/** -T: the target as TPID prints it; negative for a process group (kill(-pgid)). No existence check: a kill() of a dead PID is what one may be looking for. */
export function parseTarget(flag: string): (value: string) => number {
  return (value: string) => {
    const v = value.trim();
    const n = Number(v);
    if (!/^-?\d+$/.test(v) || n < -0x80000000 || n > 0x7fffffff) {
      throw new UsageError(`invalid ${flag} value '${value}': expected an integer PID (negative: a process group)`);
    }
    return n;
  };
}

function parseComm(flag: string): (value: string) => string {
  return (value: string) => {
    if (value === '' || value.includes('\0')) throw new UsageError(`invalid ${flag} value '${value}': expected a command name`);
    return value;
  };
}

const sigsnoopExamples = `EXAMPLES:
    sigsnoop             # trace signals system-wide
    sigsnoop -k          # trace signals issued by kill syscall only
    sigsnoop -x          # trace failed signals only
    sigsnoop -p 1216     # only trace PID 1216
    sigsnoop -s 9        # only trace signal 9
    sigsnoop -s SIGRTMIN+2 -n  # only trace SIGRTMIN+2 (36), print names
    sigsnoop -T 1216     # only trace signals to PID 1216
    sigsnoop -c nginx    # only trace signals sent by nginx
    sigsnoop --json      # one JSON object per event

RESULT: 0 delivered; negative: the syscall failed (-errno, -3 is ESRCH);
1 ignored, 2 already pending, 3 queue overflow, 4 delivered without siginfo.`;

const killsnoopExamples = `examples:
    ./killsnoop           # trace all kill() signals
    ./killsnoop -x        # only show failed kills
    ./killsnoop -p 181    # only trace PID 181
    ./killsnoop -T 189    # only trace target PID 189
    ./killsnoop -s 9      # only trace signal 9
    ./killsnoop --json    # one JSON object per event`;

function base(tool: Tool, description: string, examples: string): Command {
  return new Command(tool)
    .description(description)
    .addHelpText('after', `\n${examples}`)
    .showSuggestionAfterError(false)
    .configureOutput(commanderOutput(tool))
    .exitOverride(commanderExit);
}

export function program(tool: Tool): Command {
  if (tool === 'killsnoop') {
    return base(tool, 'Trace signals issued by the kill() family of syscalls', killsnoopExamples)
      .addOption(new Option('-x, --failed', 'only show failed kill syscalls'))
      .addOption(new Option('-p, --pid <PID>', 'trace this PID only which is the sender of signal').argParser(parsePid('-p')))
      .addOption(new Option('-T, --tpid <PID>', 'trace this target PID only which is the receiver of signal').argParser(parseTarget('-T')))
      .addOption(new Option('-s, --signal <SIGNAL>', 'trace this signal only').argParser(parseSignalFlag('-s')))
      .addOption(new Option('--json', 'print one JSON object per event'))
      .addOption(new Option('-v, --verbose', "print libbpf's debug messages"));
  }
  return base(tool, 'Trace standard and real-time signals.', sigsnoopExamples)
    .addOption(new Option('-k, --kill', 'Trace signals issued by kill syscall only.'))
    .addOption(new Option('-n, --name', 'Output signal name instead of signal number.'))
    .addOption(new Option('-p, --pid <PID>', 'Process ID to trace').argParser(parsePid('-p')))
    .addOption(new Option('-s, --signal <SIGNAL>', 'Signal to trace.').argParser(parseSignalFlag('-s')))
    .addOption(new Option('-T, --tpid <PID>', 'Target process ID to trace.').argParser(parseTarget('-T')))
    .addOption(new Option('-c, --comm <COMM>', 'Sender command name to trace.').argParser(parseComm('-c')))
    .addOption(new Option('-x, --failed', 'Trace failed signals only.'))
    .addOption(new Option('--json', 'Print one JSON object per event.'))
    .addOption(new Option('-v, --verbose', 'Verbose debug output'));
}

/** The tracer options a tool's flags ask for. */
export function tracerOptions(tool: Tool, f: Flags): SigsnoopOptions {
  if (tool === 'killsnoop') {
    return { pid: f.pid, targetPid: f.tpid, signal: f.signal, killOnly: true, failed: f.failed ? 'syscall' : false };
  }
  return { pid: f.pid, targetPid: f.tpid, signal: f.signal, comm: f.comm, killOnly: !!f.kill, failed: !!f.failed };
}

export async function main(tool: Tool, argv: string[]): Promise<number> {
  const cmd = program(tool);
  cmd.parse(argv);
  const f = cmd.opts<Flags>();
  if (f.verbose) setLibbpfVerbose(true);

  const startNs = process.hrtime.bigint();
  let header: string | undefined;
  let format: (ev: Parameters<typeof sigsnoopRow>[0]) => string;
  if (f.json) {
    format = (ev) => formatJson(ev, startNs);
  } else if (tool === 'killsnoop') {
    const w = pidWidth();
    header = killsnoopHeader(w);
    format = (ev) => killsnoopRow(ev, w);
  } else {
    const names = !!f.name;
    header = SIGSNOOP_HEADER;
    format = (ev) => sigsnoopRow(ev, names);
  }
  return runEventTool({
    session: new Session(tool === 'sigsnoop' ? { tool, lostMessage: (n) => `lost ${n} events` } : { tool }),
    start: () => sigsnoop(tracerOptions(tool, f)),
    header,
    format,
  });
}
