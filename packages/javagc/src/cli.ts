#!/usr/bin/env node
// javagc: Java garbage-collection pauses of one JVM. Flags and output follow
// libbpf-tools' javagc (BCC's is the generic ugc); --json, -H and --pools are
// ours.
import { UsageError, readProcStat } from '@ebpf/core';
import { int, option, runCli, runEventCli } from '@ebpf/core/kit';
import { options, tool } from './index.js';
import { BANNER, HEADER, PauseHistogram, formatJson, formatRow } from './output.js';

const examples = `examples:
    javagc -p 185               # trace the GC pauses of the JVM with PID 185
    javagc -p 185 -t 1000       # only pauses of at least 1000 us (1 ms)
    javagc -p 185 --pools       # also memory pool usage before -> after each GC
    javagc -p 185 -H 5          # a histogram of pause times every 5 seconds
    javagc -p 185 -H            # one histogram, at exit
    javagc -p 185 --json        # one JSON object per GC`;

/** Every flag: javagc's options and -H (a value, or none: one histogram at exit). */
export const flags = {
  pid: options.pid,
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

// With -H, GCs are counted here instead of printed.
const hist = new PauseHistogram();

await runCli('javagc', (argv) =>
  runEventCli(
    {
      name: 'javagc',
      description: 'Monitor javagc time cost: the pause of each Java garbage collection, from HotSpot USDT probes.',
      options: flags,
      examples,
      jsonFlag: { flags: '--json', help: 'print one JSON object per GC (or per histogram)' },
      tool,
      lostMessage: (n) => `lost ${n} GC records (ring buffer full)`,
      check: (f) => {
        if (f.pid === undefined) throw new UsageError('-p PID is required: the Java process to trace');
      },
      header: (f) => (f.histogram !== undefined ? BANNER : `${BANNER}\n${HEADER}`),
      row: (f, clock) => (f.histogram !== undefined ? (ev) => (hist.add(ev), '') : (ev) => formatRow(ev, !!f.pools, clock)),
      json: (f, clock) => (f.histogram !== undefined ? (ev) => void hist.add(ev) : (ev) => formatJson(ev, !!f.pools, clock)),
      started: (f, run) => {
        // Nothing more can come once the JVM is gone: stop then, as after Ctrl-C.
        const pid = f.pid!;
        const born = startTime(pid);
        const watch = setInterval(() => {
          if (born === undefined || startTime(pid) !== born) run.stop(0);
        }, 500);
        run.onStop(() => clearInterval(watch));
        if (f.histogram === undefined) return;
        const print = () => {
          run.print(run.json ? hist.json() : hist.text());
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
