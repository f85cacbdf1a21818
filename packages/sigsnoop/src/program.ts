// The two command lines over one tracer:
//   sigsnoop   libbpf-tools sigsnoop's flags and columns (there is no BCC sigsnoop)
//   killsnoop  BCC killsnoop's flags and columns
// Both take --json, which prints the same object per event.
import { option, type EventCliDef, type OptionDefs } from '@ebpf/core/kit';
import { options, tool, type SignalEvent } from './index.js';
import { SIGSNOOP_HEADER, jsonObject, killsnoopHeader, killsnoopRow, pidWidth, sigsnoopFastRow, sigsnoopRow } from './output.js';

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

/** What both command lines share: the tracer, --json's object, no "did you mean" line. */
const common = { tool, suggestions: false, json: (_f, clock) => (ev) => jsonObject(ev, clock) } satisfies Partial<EventCliDef<OptionDefs, SignalEvent>>;

/** sigsnoop's flags, in libbpf-tools' order. */
export const sigsnoopFlags = {
  killOnly: options.killOnly,
  name: option('-n, --name', 'Output signal name instead of signal number.', undefined, { cliOnly: true }),
  pid: options.pid,
  signal: options.signal,
  targetPid: options.targetPid,
  comm: options.comm,
  failed: options.failed,
  cgroup: options.cgroup,
  cgroupmap: options.cgroupmap,
  mntnsmap: options.mntnsmap,
};

export const sigsnoop: EventCliDef<typeof sigsnoopFlags, SignalEvent> = {
  ...common,
  name: 'sigsnoop',
  description: 'Trace standard and real-time signals.',
  options: sigsnoopFlags,
  examples: sigsnoopExamples,
  jsonFlag: { flags: '--json', help: 'Print one JSON object per event.' },
  verboseHelp: 'Verbose debug output',
  lostMessage: (n) => `lost ${n} events`,
  header: () => SIGSNOOP_HEADER,
  // -k: RESULT is the syscall's return and -x keeps the calls that failed, as
  // in libbpf-tools' sigsnoop -k (and BCC's killsnoop).
  toOptions: (f, p) => ({ ...p.options, failed: f.failed ? (f.killOnly ? 'syscall' : true) : false }),
  row: (f, clock) => (ev) => sigsnoopRow(ev, !!f.name, clock, !!f.killOnly),
  fastRow: (f, clock) => sigsnoopFastRow(!!f.name, clock, !!f.killOnly),
};

/** killsnoop's flags, in BCC's order and words. */
export const killsnoopFlags = {
  failed: { ...options.failed, help: 'only show failed kill syscalls' },
  pid: { ...options.pid, help: 'trace this PID only which is the sender of signal' },
  targetPid: { ...options.targetPid, help: 'trace this target PID only which is the receiver of signal' },
  signal: { ...options.signal, help: 'trace this signal only' },
  cgroupmap: options.cgroupmap,
  mntnsmap: options.mntnsmap,
  cgroup: options.cgroup,
};

export const killsnoop: EventCliDef<typeof killsnoopFlags, SignalEvent> = {
  ...common,
  name: 'killsnoop',
  description: 'Trace signals issued by the kill() family of syscalls',
  options: killsnoopFlags,
  examples: killsnoopExamples,
  // BCC's -x: only calls that returned an error.
  toOptions: (f, p) => ({ ...p.options, killOnly: true, failed: f.failed ? 'syscall' : false }),
  header: () => killsnoopHeader(pidWidth()),
  row: (_f, clock) => {
    const w = pidWidth();
    return (ev) => killsnoopRow(ev, w, clock);
  },
};
