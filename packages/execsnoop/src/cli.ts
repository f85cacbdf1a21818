#!/usr/bin/env node
// execsnoop: trace exec() syscalls. Flags and output follow BCC's execsnoop;
// --json prints one JSON object per event instead.
import { Command, Option } from 'commander';
import { Session, parsePositiveInt, parseRegex, parseUser, runEventTool, runMain, commanderExit, commanderOutput } from '@ebpf/core/cli';
import { setLibbpfVerbose } from '@ebpf/core';
import { execsnoop } from './index.js';
import { formatJson, formatRow, header, type Flags } from './output.js';

const examples = `examples:
    execsnoop                      # trace all exec() syscalls
    execsnoop -x                   # include failed exec()s
    execsnoop -T                   # include time (HH:MM:SS)
    execsnoop -P 181               # only trace new processes whose parent PID is 181
    execsnoop -U                   # include UID
    execsnoop -u 1000              # only trace UID 1000
    execsnoop -u user              # get user UID and trace only them
    execsnoop -t                   # include timestamps
    execsnoop -q                   # add "quotemarks" around arguments
    execsnoop -n main              # only print command lines containing "main"
    execsnoop -l tpkg              # only print command where arguments contains "tpkg"
    execsnoop --json               # one JSON object per event`;

export function program(): Command {
  return new Command('execsnoop')
    .description('Trace exec() syscalls')
    .addOption(new Option('-T, --time', 'include time column on output (HH:MM:SS)'))
    .addOption(new Option('-t, --timestamp', 'include timestamp on output'))
    .addOption(new Option('-x, --fails', 'include failed exec()s'))
    .addOption(new Option('-u, --uid <USER>', 'trace this UID only').argParser(parseUser('-u')))
    .addOption(new Option('-q, --quote', 'Add quotemarks (") around arguments.'))
    .addOption(new Option('-n, --name <NAME>', 'only print commands matching this name (regex), any arg').argParser(parseRegex('-n')))
    .addOption(new Option('-l, --line <LINE>', 'only print commands where arg contains this line (regex)').argParser(parseRegex('-l')))
    .addOption(new Option('-U, --print-uid', 'print UID column'))
    .addOption(new Option('--max-args <MAX_ARGS>', 'maximum number of arguments parsed and displayed').default(20, '20').argParser(parsePositiveInt('--max-args', 100000)))
    .addOption(new Option('-P, --ppid <PPID>', 'trace this parent PID only').argParser(parsePositiveInt('-P', 4194304)))
    .addOption(new Option('--json', 'print one JSON object per event'))
    .addOption(new Option('-v, --verbose', "print libbpf's debug messages"))
    .addHelpText('after', `\n${examples}`)
    .configureOutput(commanderOutput('execsnoop'))
    .exitOverride(commanderExit);
}

async function main(argv: string[]): Promise<number> {
  const cmd = program();
  cmd.parse(argv);
  const f = cmd.opts<Flags>();
  if (f.verbose) setLibbpfVerbose(true);

  const startNs = process.hrtime.bigint();
  return runEventTool({
    session: new Session({ tool: 'execsnoop' }),
    start: () => execsnoop({ uid: f.uid, ppid: f.ppid, failed: f.fails, name: f.name, line: f.line }),
    header: f.json ? undefined : header(f),
    format: f.json ? (ev) => formatJson(ev, startNs) : (ev) => formatRow(ev, f, startNs),
  });
}

await runMain('execsnoop', () => main(process.argv), () => process.argv.includes('-v') || process.argv.includes('--verbose'));
