#!/usr/bin/env node
// tcpstates: trace TCP state changes and the time spent in each state. Flags
// and output follow BCC's tcpstates; --json prints one JSON object per change.
import { eventJson, tcpSocketFlags, familyOf, option, portExamples, portOptions, runCli, runEventCli, tcpDisplayFlags, type BatchClock, type EventRun } from '@ebpf/core/kit';
import { tool } from './index.js';
import { Journal } from './journal.js';
import { Formatter, header, journalMessage, type Flags } from './output.js';

const examples = `examples:
    tcpstates           # trace all TCP state changes
    tcpstates -t        # include timestamp column
    tcpstates -T        # include time column (HH:MM:SS)
    tcpstates -w        # wider columns (fit IPv6)
    tcpstates -stT      # csv output, with times & timestamps
    tcpstates -Y        # log events to the systemd journal
${portExamples('tcpstates')}
    tcpstates -4        # trace IPv4 family only
    tcpstates -6        # trace IPv6 family only
    tcpstates --json    # one JSON object per change`;

const display = { cliOnly: true } as const;

/** Every flag, in BCC's order: tcpstates' options (-4 and -6 set `family`) and the display flags. */
export const flags = {
  ...tcpDisplayFlags,
  ...portOptions, // -L -D
  journal: option('-Y, --journal', 'log session state changes to the systemd journal', undefined, display),
  ...tcpSocketFlags, // -4 -6 --cgroup --cgroupmap
};

// The rows of one run, text or byte-level, count -t from the same first change.
let formatter: Formatter | undefined;
const rows = (f: Flags, clock: BatchClock) => (formatter ??= new Formatter(f, clock));

// -Y: the journal connection, opened before tracing starts; a later error ends the run.
let journal: Journal | undefined;
let run: EventRun | undefined;
let journalError: Error | undefined;
const failed = (err: Error) => (run ? run.fail(err.message) : (journalError ??= err));

await runCli('tcpstates', async (argv) => {
  const code = await runEventCli(
    {
      name: 'tcpstates',
      description: 'Trace TCP session state changes and durations',
      options: flags,
      examples,
      jsonFlag: { flags: '--json', help: 'print one JSON object per state change' },
      tool,
      toOptions: (f, parsed) => ({ ...parsed.options, family: familyOf(f) }),
      check: (f) => {
        if (f.journal) journal = new Journal(failed);
      },
      header,
      row: (f, clock) => {
        const r = rows(f, clock);
        return journal ? (c) => (journal!.send(journalMessage(c)), r.row(c)) : (c) => r.row(c);
      },
      // -Y needs the decoded change: no byte-level rows then.
      fastRow: (f, clock) => (f.journal ? undefined : ((r) => r.fast.bind(r))(rows(f, clock))),
      json: (_f, clock) => (c) => (journal?.send(journalMessage(c)), eventJson(c, clock)),
      started: (_f, r) => {
        run = r;
        if (journalError) r.fail(journalError.message);
      },
    },
    argv,
  );
  await journal?.close(); // every entry handed to journald before exiting
  return code;
});
