#!/usr/bin/env node
// javagc: Java garbage-collection pauses of one JVM. BCC's syntax (its ugc:
// `javagc [-m] [-M MIN] [-F FILTER] pid`) and libbpf-tools' flags (-p, -t)
// both work; the output is libbpf-tools' javagc's; --json, -H and --pools are
// ours.
import { UsageError, readProcStat } from '@ebpf/core';
import { eventJson, int, option, pid, runCli, runEventCli, text } from '@ebpf/core/kit';
import { options, tool } from './index.js';
import { BANNER, HEADER, HEADER_MS, PauseHistogram, formatRow, poolDescription } from './output.js';

const examples = `examples:
    javagc 185                  # trace the GC pauses of the JVM with PID 185
    javagc -m 185               # GC times in milliseconds
    javagc -M 10 185            # only GCs of at least 10 ms
    javagc -F Tenured 185       # only GCs with a pool whose description contains "Tenured"
    javagc -p 185 -t 1000       # libbpf-tools' flags: only pauses of at least 1000 us
    javagc --pools 185          # also memory pool usage before -> after each GC
    javagc -H 5 185             # a histogram of pause times every 5 seconds
    javagc 185 -H               # one histogram, at exit (after the pid: -H takes an optional value)
    javagc --json 185           # one JSON object per GC`;

/** Every flag: BCC's (-m, -M, -F), libbpf-tools' (-p, -t), and ours (-H, --pools). */
export const flags = {
  milliseconds: option('-m, --milliseconds', 'report times in milliseconds (default is microseconds)', undefined, { cliOnly: true }),
  minimum: option('-M, --minimum <MSEC>', 'display only GCs that took at least this many milliseconds (BCC\'s; -t in ms)', int(0, 1e9), {
    cliOnly: true,
    conflicts: ['time'],
  }),
  filter: option(
    '-F, --filter <FILTER>',
    'display only GCs with a memory pool whose description (as --pools prints it) contains this string; traces the pools',
    text(),
    { cliOnly: true },
  ),
  pid: { ...options.pid, help: 'the Java process to trace (libbpf-tools\' flag; same as the pid argument)' },
  thresholdUs: options.thresholdUs,
  histogram: option(
    '-H, --histogram [SECONDS]',
    'print a log2 histogram of pause times every SECONDS, or once at exit, instead of one line per GC',
    int(1, 86400),
    { cliOnly: true },
  ),
  pools: options.pools,
};

/** The process's start time: tells a PID's reuse from its process. */
const startTime = (pid: number): number | undefined => readProcStat(pid)?.starttime;

// With -H, GCs are counted here instead of printed (in ms with -m).
let histogram: PauseHistogram | undefined;
const histOf = (f: { milliseconds?: boolean }) => (histogram ??= new PauseHistogram(!!f.milliseconds));

// The JVM: the pid argument (BCC's) or -p (libbpf-tools'), set by toOptions.
let target = 0;

await runCli('javagc', (argv) =>
  runEventCli(
    {
      name: 'javagc',
      description: 'Monitor javagc time cost: the pause of each Java garbage collection, from HotSpot USDT probes.',
      options: flags,
      examples,
      jsonFlag: { flags: '--json', help: 'print one JSON object per GC (or per histogram)' },
      args: [{ name: 'pid', help: 'the Java process to trace', type: pid }],
      tool,
      lostMessage: (n) => `lost ${n} GC records (ring buffer full)`,
      toOptions: (f, p) => {
        const [arg] = p.args;
        if (arg !== undefined && f.pid !== undefined && arg !== f.pid) throw new UsageError(`two PIDs, ${arg} and -p ${f.pid}: give the Java process once`);
        target = arg ?? f.pid ?? 0;
        if (!target) throw new UsageError('a PID is required: javagc [options] PID (or -p PID), the Java process to trace');
        return {
          pid: target,
          // -M is BCC's threshold in ms; -t libbpf-tools' in µs (commander refuses both).
          thresholdUs: f.minimum !== undefined ? f.minimum * 1000 : f.thresholdUs,
          // -F matches the pools' descriptions: it needs the pool probes.
          pools: !!f.pools || f.filter !== undefined,
        };
      },
      header: (f) => (f.histogram !== undefined ? BANNER : `${BANNER}\n${f.milliseconds ? HEADER_MS : HEADER}`),
      filter: (f) => {
        const want = f.filter;
        return want === undefined ? undefined : (ev) => ev.pools.some((pool) => poolDescription(pool).includes(want));
      },
      row: (f, clock) =>
        f.histogram !== undefined
          ? (ev) => (histOf(f).add(ev), '')
          : (ev) => formatRow(ev, { pools: f.pools ? true : f.filter, ms: !!f.milliseconds }, clock),
      json: (f, clock) => (f.histogram !== undefined ? (ev) => void histOf(f).add(ev) : (ev) => eventJson(ev, clock)),
      started: (f, run) => {
        // Nothing more can come once the JVM is gone: stop then, as after Ctrl-C.
        const pid = target;
        const born = startTime(pid);
        const watch = setInterval(() => {
          if (born === undefined || startTime(pid) !== born) run.stop(0);
        }, 500);
        run.onStop(() => clearInterval(watch));
        if (f.histogram === undefined) return;
        const hist = histOf(f);
        const print = () => {
          run.print(run.json ? run.jsonLine(hist.json()) : hist.text());
          hist.clear();
        };
        const every = f.histogram as number | true;
        if (typeof every === 'number') {
          const timer = setInterval(print, every * 1000);
          run.onStop(() => clearInterval(timer));
        }
        // At exit: what the last interval gathered (all of it without SECONDS).
        run.onStop(() => {
          if (typeof every !== 'number' || hist.count > 0) print();
        });
      },
    },
    argv,
  ),
);
