#!/usr/bin/env node
// timemachine record PID | record -- CMD: record until the process ends;
// on a crash say so at once and save the window. timemachine rewind TIME:
// the timeline around TIME from a saved window, and the memory analysis.
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { UsageError } from '@ebpf/core';
import { Session, commanderExit, commanderOutput } from '@ebpf/core/cli';
import { commanderOptions, runCli } from '@ebpf/core/kit';
import { analyzeMemory, between, options, record, wallMs, type Window } from './index.js';
import { HEADER, chromeTrace, clock, crashBanner, html, memoryReport, row } from './render.js';

const NAME = 'timemachine';

async function recordMain(flags: Record<string, unknown>, target: string[], dashDash: boolean): Promise<number> {
  const json = !!flags.json;
  const opts: Parameters<typeof record>[0] = {
    functions: flags.functions as string | undefined,
    maxFunctions: flags.maxFunctions as number,
    windowSeconds: flags.windowSeconds as number,
    windowBytes: flags.windowBytes as number,
    allocs: flags.allocs as boolean,
    output: flags.output as string | undefined,
  };
  if (dashDash) opts.command = target;
  else if (target.length === 1 && /^\d+$/.test(target[0]!)) opts.pid = Number(target[0]);
  else throw new UsageError(target.length ? `not a PID: '${target.join(' ')}' (a command goes after --: record -- CMD)` : 'record needs a PID or a command (record -- CMD)');
  // JSON lines lead with time and elapsed (the project's JSON convention); elapsed: since recording started.
  const now = (): { time: string; elapsed: number } => {
    const { time, elapsed } = rec ? rec.clock(process.hrtime.bigint()) : { time: new Date().toISOString(), elapsed: 0 };
    return { time, elapsed };
  };
  let rec: Awaited<ReturnType<typeof record>> | undefined;
  const banner = (pid: number): string =>
    json ? `${JSON.stringify({ ...now(), event: 'recording', pid })}\n` : `Recording pid ${pid}${opts.command ? ` (${opts.command.join(' ')})` : ''}, keeping the last ${opts.windowSeconds} s. Ctrl-C to end, SIGUSR2 to save the window.\n`;
  opts.onStart = (pid) => process.stdout.write(banner(pid)); // before the command runs: its output comes after
  rec = await record(opts);
  const session = new Session({ tool: NAME, lost: () => rec.lost().ring, lostMessage: (n) => `Possibly lost ${n} events` });
  const out = (text: string, obj: object): void => {
    session.out.write(json ? `${JSON.stringify(obj)}\n` : text);
    session.out.flush();
  };
  session.onStop(() => void rec!.close());
  let saves = 0;
  process.on('SIGUSR2', () => {
    const base = opts.output ? opts.output.replace(/\.json$/, '') : `timemachine-${rec!.pid}`;
    const file = rec!.save(`${base}-${++saves}.json`);
    out(`Window saved to ${file} (${rec!.held} events)\n`, { ...now(), event: 'saved', file, reason: 'request', events: rec!.held, lost: rec!.lost() });
  });
  rec.onCrash((c) => {
    const { time, elapsed, ...rest } = c;
    out(crashBanner(rec!, c), { time, elapsed, event: 'crash', ...rest });
  });
  void rec.exited.then(async (code) => {
    if (rec.crash) {
      const w = await rec.crashed;
      const file = rec.savedTo;
      out(`Window saved to ${file} (${w.events.length} events; lost: ${w.lost.ring} in the kernel, ${w.lost.evicted} older than the window)\nRewind: ${NAME} rewind --file ${file} crash\n`, { ...now(), event: 'saved', file, reason: 'crash', events: w.events.length, lost: w.lost });
    } else {
      const how = code < 0 ? 'exited' : code & 0x7f ? `was killed by signal ${code & 0x7f}` : `exited with status ${(code >> 8) & 0xff}`;
      out(`Process ${rec.pid} ${how}: no crash.\n`, { ...now(), event: 'exit', pid: rec.pid, crash: false, ...(code >= 0 ? { exitCode: code } : {}) });
    }
    session.stop(0);
  });
  return session.done;
}

/** The newest timemachine-*.json in the working directory. */
function newestWindow(): string {
  const files = readdirSync('.').filter((f) => /^timemachine-.*\.json$/.test(f));
  if (!files.length) throw new UsageError('no saved window here (timemachine-*.json): name one with --file');
  return files.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0]!;
}

/** TIME, as seconds since recording started: "crash", HH:MM:SS[.frac] (local, the window's day), an ISO date, or +S (seconds from the window's first event). */
function parseTime(spec: string, w: Window): number {
  if (spec === 'crash') {
    if (!w.crash) throw new UsageError('this window has no crash: give a time');
    return w.crash.elapsed;
  }
  const first = w.events[0]?.elapsed ?? 0;
  if (/^\+\d+(\.\d+)?$/.test(spec)) return first + Number(spec);
  const start = wallMs(w, w.started);
  const hms = /^(\d{1,2}):(\d{2}):(\d{2}(?:\.\d+)?)$/.exec(spec);
  if (hms) {
    const d = new Date(start + first * 1000);
    d.setHours(Number(hms[1]), Number(hms[2]), 0, 0);
    return (d.getTime() + Number(hms[3]) * 1000 - start) / 1000;
  }
  const t = Date.parse(spec);
  if (Number.isNaN(t)) throw new UsageError(`invalid time '${spec}' (crash, HH:MM:SS[.frac], an ISO date or +SECONDS)`);
  return (t - start) / 1000;
}

function rewindMain(flags: Record<string, unknown>, time: string | undefined): number {
  const file = (flags.file as string | undefined) ?? newestWindow();
  let w: Window;
  try {
    w = JSON.parse(readFileSync(file, 'utf8')) as Window;
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (w?.version !== 1 || !Array.isArray(w.events) || !w.started) throw new UsageError(`${file} is not a timemachine window`);
  const at = parseTime(time ?? (w.crash ? 'crash' : `+${(w.events.at(-1)?.elapsed ?? 0) - (w.events[0]?.elapsed ?? 0)}`), w);
  const span = flags.span as number;
  const events = between(w, at - span, at + span);
  const memory = analyzeMemory(w.events, w.crash);
  if (flags.trace) writeFileSync(flags.trace as string, JSON.stringify(chromeTrace(w, events)));
  if (flags.html) writeFileSync(flags.html as string, html(w, events, memory));
  if (flags.json) {
    const when = new Date(wallMs(w, w.started) + at * 1000).toISOString();
    process.stdout.write(`${JSON.stringify({ time: when, elapsed: at, file, pid: w.pid, from: at - span, to: at + span, started: w.started, crash: w.crash ?? null, lost: w.lost, events, stacks: w.stacks, memory })}\n`);
    return 0;
  }
  let s = `Window of pid ${w.pid}${w.command ? ` (${w.command})` : ''}, saved ${w.savedAt} (${w.reason}); ${w.events.length} events; lost: ${w.lost.ring} in the kernel, ${w.lost.evicted} older than the window\n`;
  if (w.crash) s += crashBanner(w, w.crash);
  const start = wallMs(w, w.started);
  s += `\nEvents from ${clock(start + (at - span) * 1000)} to ${clock(start + (at + span) * 1000)}:\n${HEADER}${events.map((e) => row(w, e)).join('')}\n${memoryReport(w, memory)}`;
  process.stdout.write(s);
  return 0;
}

const seconds = (t: string): number => {
  const n = Number(t);
  if (!(n > 0 && n <= 86_400)) throw new UsageError(`invalid --span '${t}': seconds from 0 to 86400`);
  return n;
};

await runCli(NAME, async (argv) => {
  let result: Promise<number> | number = 2;
  const prog = new Command(NAME).description('Record a process, catch its crash, rewind the seconds before it').configureOutput(commanderOutput(NAME)).exitOverride(commanderExit);
  const rec = prog.command('record').description('record PID, or record -- CMD [ARGS...]').argument('[target...]', 'a PID, or after -- a command').configureOutput(commanderOutput(NAME)).exitOverride(commanderExit);
  for (const o of Object.values(options)) if (!o.apiOnly) for (const c of commanderOptions(o)) rec.addOption(c);
  rec.option('--json', 'print one JSON object per line').option('-v, --verbose', "print libbpf's debug messages");
  rec.addHelpText('after', `\nexamples:\n  ${NAME} record 1234              # record a running process\n  ${NAME} record -f '^handle' -- ./server   # start one, with entries of its handle* functions\n  kill -USR2 <recorder>              # save the window now`);
  rec.action((target: string[], raw: Record<string, unknown>) => {
    const byAttr = new Map(rec.options.map((o) => [o.flags, o.attributeName()]));
    const flags: Record<string, unknown> = { json: raw.json };
    for (const [key, o] of Object.entries(options)) if (!o.apiOnly) flags[key] = raw[byAttr.get(o.flags)!];
    result = recordMain(flags, target, argv.includes('--'));
  });
  prog
    .command('rewind')
    .description('show the timeline around TIME (default: the crash) from a saved window, then the memory analysis')
    .argument('[time]', 'crash, HH:MM:SS[.frac], an ISO date, or +SECONDS from the window start')
    .option('--file <FILE>', 'the saved window (default: the newest timemachine-*.json here)')
    .option('--span <SECONDS>', 'seconds shown before and after TIME', seconds, 5)
    .option('--json', 'print the window around TIME and the analysis as one JSON object')
    .option('--trace <FILE>', 'also write a Chrome trace-event file (chrome://tracing, ui.perfetto.dev)')
    .option('--html <FILE>', 'also write a self-contained HTML timeline')
    .configureOutput(commanderOutput(NAME))
    .exitOverride(commanderExit)
    .action((time: string | undefined, flags: Record<string, unknown>) => {
      result = rewindMain(flags, time);
    });
  await prog.parseAsync(argv);
  return result;
});
