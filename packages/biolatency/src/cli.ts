#!/usr/bin/env node
// biolatency: summarize block device I/O latency as a histogram. Flags and
// output follow BCC's biolatency; -j/--json prints real JSON (one object per
// histogram) where BCC printed a Python dict.
import { Command, Option } from 'commander';
import { Session, describeError, parsePositiveInt, printError, runMain, commanderExit, commanderOutput } from '@ebpf/core/cli';
import { UsageError, setLibbpfVerbose } from '@ebpf/core';
import { biolatency, resolveDisk, type Snapshot } from './index.js';
import { BANNER, formatJson, formatSnapshot, type Flags } from './output.js';

const examples = `examples:
    biolatency                    # summarize block I/O latency as a histogram
    biolatency 1 10               # print 1 second summaries, 10 times
    biolatency -mT 1              # 1s summaries, milliseconds, and timestamps
    biolatency -Q                 # include OS queued time in I/O time
    biolatency -D                 # show each disk device separately
    biolatency -F                 # show I/O flags separately
    biolatency -j                 # one JSON object per histogram
    biolatency -e                 # show extension summary(total, average)
    biolatency -d sdc             # Trace sdc only
    biolatency -c /sys/fs/cgroup/unified/mygroup   # only I/O submitted from this cgroup`;

export function program(): Command {
  return new Command('biolatency')
    .description('Summarize block device I/O latency as a histogram')
    .addOption(new Option('-T, --timestamp', 'include timestamp on output'))
    .addOption(new Option('-Q, --queued', 'include OS queued time in I/O time'))
    .addOption(new Option('-m, --milliseconds', 'millisecond histogram'))
    .addOption(new Option('-D, --disks', 'print a histogram per disk device'))
    .addOption(new Option('-F, --flags', 'print a histogram per set of I/O flags'))
    .addOption(new Option('-e, --extension', 'summarize average/total value'))
    .addOption(new Option('-j, --json', 'print one JSON object per histogram'))
    .addOption(new Option('-d, --disk <DISK>', 'Trace this disk only'))
    .addOption(new Option('-c, --cgroup <PATH>', 'trace I/O submitted by tasks in this cgroup v2 only'))
    .addOption(new Option('-v, --verbose', "print libbpf's debug messages"))
    .argument('[interval]', 'output interval, in seconds', parsePositiveInt('interval', 99999999))
    .argument('[count]', 'number of outputs', parsePositiveInt('count', 99999999))
    .addHelpText('after', `\n${examples}`)
    .configureOutput(commanderOutput('biolatency'))
    .exitOverride(commanderExit);
}

async function main(argv: string[]): Promise<number> {
  const cmd = program();
  cmd.parse(argv);
  const f = cmd.opts<Flags>();
  const [interval, count] = cmd.processedArgs as [number | undefined, number | undefined];
  if (f.verbose) setLibbpfVerbose(true);
  if (f.disks && f.flags) throw new UsageError('can only use -D or -F');
  // Checked before anything loads, so a bad disk is one line and exit 2.
  if (f.disk !== undefined) resolveDisk(f.disk);

  const session = new Session({ tool: 'biolatency' });
  const out = session.out;
  const bio = biolatency({
    queued: f.queued,
    milliseconds: f.milliseconds,
    perDisk: f.disks,
    perFlags: f.flags,
    disk: f.disk,
    cgroup: f.cgroup,
    intervalMs: interval !== undefined ? interval * 1000 : undefined,
    count: interval !== undefined ? count : undefined,
  });
  const print = (s: Snapshot) => {
    out.write(f.json ? formatJson(s) : formatSnapshot(s, f));
    out.flush();
  };
  // Ctrl-C, SIGTERM, SIGHUP, a closed pipe: print what the period so far
  // holds (as BCC does on Ctrl-C), then exit 0.
  // Without an interval nothing else keeps Node running until the signal.
  const keepAlive = setInterval(() => {}, 1 << 30);
  session.onStop(() => {
    clearInterval(keepAlive);
    const last = bio.close();
    if (last) print(last);
  });
  if (!f.json) out.write(BANNER);
  out.flush();
  // Each interval's histograms; the iteration ends after `count` of them.
  void (async () => {
    for await (const snap of bio) print(snap);
    if (bio.error === undefined) return session.stop(0);
    const d = describeError(bio.error);
    printError('biolatency', d.message);
    session.stop(d.exitCode);
  })();
  return session.done;
}

await runMain('biolatency', () => main(process.argv), () => process.argv.includes('-v') || process.argv.includes('--verbose'));
