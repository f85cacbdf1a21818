#!/usr/bin/env node
// syscount: summarize syscall counts and latencies. Flags and output follow
// BCC's syscount; --json prints one JSON object per row.
import { escapeControl, fmtFixed, hhmmss, pad, padStart } from '@ebpf/core/format';
import { int, option, runCli, runPeriodicCli } from '@ebpf/core/kit';
import { options, SYSCALL_NAMES, syscount, type Row, type Snapshot } from './index.js';

const examples = `examples:
    syscount                   # count syscalls until Ctrl-C, print the top 10
    syscount -P                # count by process, not by syscall
    syscount -i 5 -T 20        # every 5 seconds, the top 20
    syscount -L                # also their time (us), sorted by it
    syscount -Lm               # ... in milliseconds
    syscount -p 185            # only process 185
    syscount -x                # only failed syscalls
    syscount -e ENOENT         # only syscalls failing with ENOENT
    syscount --syscall openat  # only openat
    syscount -l                # list the syscalls this build knows
    syscount --json -d 5       # 5 seconds, one JSON object per row`;

const seconds = int(1, 99999999);

/** Every flag, in BCC's order. */
const flags = {
  pid: options.pid,
  tid: options.tid,
  interval: option('-i, --interval <INTERVAL>', 'print summary at this interval (seconds)', seconds, { cliOnly: true }),
  duration: option('-d, --duration <DURATION>', 'total duration of trace, in seconds', seconds, { cliOnly: true }),
  top: option('-T, --top <TOP>', 'print only the top syscalls by count or latency', int(1, 1 << 20), { cliOnly: true, default: 10 }),
  failures: options.failures,
  errno: options.errno,
  latency: options.latency,
  milliseconds: option('-m, --milliseconds', 'display latency in milliseconds (default: microseconds)', undefined, { cliOnly: true }),
  perProcess: options.perProcess,
  list: option('-l, --list', 'print list of recognized syscalls and exit', undefined, { cliOnly: true }),
  syscall: options.syscall,
  cgroup: options.cgroup,
  cgroupmap: options.cgroupmap,
  mntnsmap: options.mntnsmap,
};

type Flags = { top?: number; latency?: boolean; milliseconds?: boolean; perProcess?: boolean };

const key = (r: Row) => (r.pid !== undefined ? `${pad(String(r.pid), 6)} ${pad(escapeControl(r.comm!), 15)}` : r.name!);

function print(s: Snapshot, f: Flags): string {
  let out = `[${hhmmss(s.time)}]\n${pad(f.perProcess ? 'PID    COMM' : 'SYSCALL', 22)} ${padStart('COUNT', 8)}`;
  out += f.latency ? ` ${padStart(f.milliseconds ? 'TIME (ms)' : 'TIME (us)', 16)}\n` : '\n';
  for (const r of s.rows.slice(0, f.top)) {
    out += `${pad(key(r), 22)} ${padStart(String(r.count), 8)}`;
    out += f.latency ? ` ${padStart(f.milliseconds ? fmtFixed(r.totalNs! / 1e6, 6) : fmtFixed(r.totalNs! / 1e3, 3), 16)}\n` : '\n';
  }
  return `${out}\n${s.final ? 'Detaching...\n' : ''}`;
}

const json = (s: Snapshot, f: Flags) =>
  s.rows.slice(0, f.top); // each the API's Row, by the kit's JSON convention

await runCli('syscount', async (argv) => {
  // -l prints this build's table and exits, before anything is loaded.
  if (argv.slice(2).some((a) => a === '--list' || /^-[a-zA-Z]*l[a-zA-Z]*$/.test(a))) {
    process.stdout.write(SYSCALL_NAMES.map((n, i) => (n ? `${padStart(String(i), 4)} ${n}\n` : '')).join(''));
    return 0;
  }
  return runPeriodicCli(
    {
      name: 'syscount',
      description: 'Summarize syscall counts and latencies.',
      options: flags,
      examples,
      jsonFlag: { flags: '--json', help: 'print one JSON object per row' },
      start: ({ options: o, flags: f }) => syscount({ ...o, intervalMs: f.interval !== undefined ? f.interval * 1000 : undefined }),
      banner: (f) => `Tracing ${f.failures || f.errno ? 'failed ' : ''}syscalls, printing top ${f.top}... Ctrl+C to quit.\n`,
      print,
      jsonLines: json,
      lostMessage: (n) => `Possibly lost ${n} syscalls (number out of range, or the -P map full)`,
    },
    argv,
  );
});
