#!/usr/bin/env node
// opensnoop: trace open() syscalls. Flags and output follow BCC's opensnoop;
// --json prints one JSON object per event instead.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Command, Option } from 'commander';
import { Session, parsePid, parsePositiveInt, parseUser, runEventTool, runMain, commanderExit, commanderOutput } from '@ebpf/core/cli';
import { UsageError, openFlagValue, possibleCpus, setLibbpfVerbose } from '@ebpf/core';
import { opensnoop, opensnoopObject, type OpensnoopOptions } from './index.js';
import { formatJson, header, type Flags } from './output.js';
import { RowWriter } from './rows.js';

const examples = `examples:
    opensnoop                        # trace all open() syscalls
    opensnoop -T                     # include timestamps
    opensnoop -U                     # include UID
    opensnoop -x                     # only show failed opens
    opensnoop -p 181                 # only trace PID 181
    opensnoop -t 123                 # only trace TID 123
    opensnoop -u 1000                # only trace UID 1000
    opensnoop -d 10                  # trace for 10 seconds only
    opensnoop -n main                # only print process names containing "main"
    opensnoop -e                     # show extended fields
    opensnoop -f O_WRONLY -f O_RDWR  # only print calls for writing
    opensnoop -f O_RDONLY            # only print calls for reading only
    opensnoop -F                     # show full path for an open file with relative path
    opensnoop --json                 # one JSON object per event`;

interface CliFlags extends Flags {
  failed?: boolean;
  pid?: number;
  uid?: number;
  duration?: number;
  name?: string;
  extended_fields?: boolean;
  flag_filter?: string[];
  bufferPages: number;
  verbose?: boolean;
}

function parseFlag(value: string, prev: string[] | undefined): string[] {
  if (openFlagValue(value) === undefined) throw new UsageError(`Bad flag: ${value}`);
  return [...(prev ?? []), value];
}

function parsePages(value: string): number {
  const n = parsePositiveInt('-b', 1 << 18)(value);
  if ((n & (n - 1)) !== 0) throw new UsageError(`invalid -b value '${value}': must be a power of two number of pages`);
  return n;
}

function unsupported(flag: string): () => never {
  return () => {
    throw new UsageError(`${flag} is not supported: it filters on a BPF map pinned by another program, which @ebpf/core cannot open`);
  };
}

export function program(): Command {
  return new Command('opensnoop')
    .description('Trace open() syscalls')
    .addOption(new Option('-T, --timestamp', 'include timestamp on output'))
    .addOption(new Option('-U, --print-uid', 'print UID column'))
    .addOption(new Option('-x, --failed', 'only show failed opens'))
    .addOption(new Option('-p, --pid <PID>', 'trace this PID only').argParser(parsePid('-p')))
    .addOption(new Option('-t, --tid <TID>', 'trace this TID only').argParser(parsePid('-t')))
    .addOption(new Option('--cgroupmap <CGROUPMAP>', 'not supported').hideHelp().argParser(unsupported('--cgroupmap')))
    .addOption(new Option('--mntnsmap <MNTNSMAP>', 'not supported').hideHelp().argParser(unsupported('--mntnsmap')))
    .addOption(new Option('-u, --uid <UID>', 'trace this UID only').argParser(parseUser('-u')))
    .addOption(new Option('-d, --duration <DURATION>', 'total duration of trace in seconds').argParser(parsePositiveInt('-d')))
    .addOption(new Option('-n, --name <NAME>', 'only print process names containing this name'))
    .addOption(new Option('-e, --extended_fields', 'show extended fields'))
    .addOption(new Option('--extended-fields', 'same as -e').hideHelp())
    .addOption(new Option('-f, --flag_filter <FLAG>', 'filter on flags argument (e.g., O_WRONLY); repeatable').argParser(parseFlag))
    .addOption(new Option('-F, --full-path', 'show full path for an open file with relative path'))
    .addOption(
      new Option('-b, --buffer-pages <BUFFER_PAGES>', 'size of the ring buffer, in pages per CPU (must be a power of two number of pages and defaults to 64)')
        .default(64)
        .argParser(parsePages),
    )
    .addOption(new Option('--json', 'print one JSON object per event'))
    .addOption(new Option('-v, --verbose', "print libbpf's debug messages"))
    .addHelpText('after', `\n${examples}`)
    .configureOutput(commanderOutput('opensnoop'))
    .exitOverride(commanderExit);
}

/** BCC's -b is pages per CPU for each CPU's perf buffer; ours is one ring shared by all CPUs. */
export function ringBytes(pages: number, cpus: number): number {
  const want = pages * 4096 * cpus;
  let ring = 4096;
  while (ring < want) ring *= 2;
  return Math.min(ring, 2 ** 30);
}

const GC_EVERY_BYTES = 1 << 20;

/** V8's young-generation collection, or undefined if it cannot be had. */
function minorGc(): (() => void) | undefined {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as (opts?: { type?: string; execution?: string }) => void;
    if (typeof gc !== 'function') return undefined;
    return () => gc({ type: 'minor', execution: 'sync' });
  } catch {
    return undefined;
  }
}

/**
 * The text output loop: like runEventTool(), but the ring's records go
 * straight to a RowWriter (rows.ts) instead of through event objects.
 */
function runRows(session: Session, opts: OpensnoopOptions, f: Flags): Promise<number> {
  const obj = opensnoopObject(opts);
  const out = session.out;
  const writer = new RowWriter(f, (chunk) => {
    if (out.broken) return true;
    process.stdout.write(chunk);
    // Files, terminals and (on Linux) pipes are written synchronously; when
    // nothing is left queued, the chunk's memory is free to reuse.
    return process.stdout.writableLength === 0;
  });
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    writer.flush();
  };
  // Stop: close() drains the ring into the writer first, then the rest goes out.
  session.onStop(() => obj.close());
  session.onStop(flush);
  // Each batch of records reaches JavaScript as a new Buffer that the native
  // reader allocated (up to 256 KiB). V8 does not see that memory until
  // 32 MB of it has piled up (2 × the largest semi-space), and then collects
  // it: under a storm, peak RSS would be ~35 MB higher than needed. A minor
  // GC every MB of records frees them early: ~0.2 ms per MB.
  const gc = minorGc();
  let sinceGc = 0;
  const ring = obj.ringBuffer('events', (view, off, len) => {
    sinceGc += len;
    writer.record(view, off, len);
  }, {
    // A terminal sees each batch at once; a pipe or file gets large writes
    // (at 64 KiB, or 100 ms after the first row waiting), as core's Output does.
    onBatchEnd: () => {
      if (gc && sinceGc >= GC_EVERY_BYTES) {
        sinceGc = 0;
        gc();
      }
      if (out.isTTY) flush();
      else if (!timer && writer.pending > 0) {
        timer = setTimeout(flush, 100);
        timer.unref();
      }
    },
  });
  session.setLost(() => ring.lost());
  out.write(`${header(f)}\n`);
  out.flush();
  return session.done;
}

async function main(argv: string[]): Promise<number> {
  const cmd = program();
  cmd.parse(argv);
  const f = cmd.opts<CliFlags & { extendedFields?: boolean }>();
  if (f.verbose) setLibbpfVerbose(true);
  if (cmd.args.length) throw new UsageError(`unrecognized arguments: ${cmd.args.join(' ')}`);
  const flags: Flags = { ...f, extendedFields: f.extended_fields || f.extendedFields };
  const opts: OpensnoopOptions = {
    pid: f.pid,
    tid: f.tid,
    uid: f.uid,
    failed: f.failed,
    name: f.name,
    flags: f.flag_filter,
    fullPath: f.fullPath,
    ringBytes: ringBytes(f.bufferPages, possibleCpus()),
  };
  const session = new Session({ tool: 'opensnoop', durationSeconds: f.duration });
  if (!f.json) return runRows(session, opts, flags);
  const startNs = process.hrtime.bigint();
  return runEventTool({
    session,
    start: () => opensnoop(opts),
    format: (ev) => formatJson(ev, startNs),
  });
}

await runMain('opensnoop', () => main(process.argv), () => process.argv.includes('-v') || process.argv.includes('--verbose'));
