// hardirqs and softirqs are one tool twice: per interrupt name (or softirq
// vector) a count, a summed time and a log2 histogram, kept by the BPF side
// in ebpf/irqstat.h's struct irq_stat, only ever added to. This is that tool
// once: options (BCC's -T -N -C -d -c), the program definition, snapshots
// (CumulativeMap: lossless interval reads) and the CLI's table, histograms
// and JSON. Each tool gives its object, how a map key is named, and its
// spelling (column, section, banner, -C's long flag).
import { UsageError } from '../errors.js';
import { possibleCpus } from '../bpf/libbpf.js';
import { CumulativeMap, log2Buckets } from '../bpf/histmap.js';
import type { BpfObject } from '../bpf/object.js';
import { log2HistogramJson, log2Sections, nsIn, pad } from '../format/index.js';
import { custom, int, option, timestampFlag } from './options.js';
import { definePeriodicTool, type PeriodicTool } from './periodic.js';
import { periodHead, runCli, runIntervalCli } from './cli.js';

export interface IrqStat {
  /** The handler's name (hardirqs: action->name) or the softirq's (net_rx, timer...). */
  name: string;
  /** Handler runs. */
  count: number;
  /** Their time, summed, in nanoseconds. */
  totalNs: number;
  /** buckets[i]: runs whose time v (in `unit`, truncated) has floor(log2(v)) == i; trailing empty ones left out. */
  buckets: number[];
}

export interface IrqSnapshot {
  time: Date;
  startNs: bigint;
  endNs: bigint;
  /** The histograms' unit: nsecs with `nanoseconds`, else usecs. */
  unit: 'usecs' | 'nsecs';
  /** Every name that ran in the period, least time first (BCC's order). */
  stats: IrqStat[];
}

export interface IrqOptions {
  /** -N: histograms (and totals) in nanoseconds. */
  nanoseconds?: boolean;
  /** -c: only this CPU, in the kernel. */
  cpu?: number;
  intervalMs?: number;
  count?: number;
}

const cpuType = custom(
  (text, flag) => {
    const n = int(0, 4095).parse!(text, flag);
    return checkCpu(n, flag);
  },
  (v, key) => {
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new UsageError(`${key} must be an integer`);
    return checkCpu(v, key);
  },
);

function checkCpu(n: number, what: string): number {
  const max = possibleCpus() - 1;
  if (n < 0 || n > max) throw new UsageError(`invalid ${what} value '${n}': expected 0..${max}`);
  return n;
}

/** The options of both tools' APIs. */
export const irqOptions = {
  nanoseconds: option('-N, --nanoseconds', 'output in nanoseconds'),
  cpu: option('-c, --cpu <CPU>', 'trace this CPU only', cpuType),
};

export interface IrqToolDef {
  name: string;
  object: URL;
  /** The stats map's name and the layout of struct irq_stat (the generated IRQ_STAT_OFFSETS). */
  offsets: { count: number; total_ns: number; slots: number };
  /** A key of the stats map, named. */
  keyName: (key: Buffer) => string;
  /** Events seen but not counted. */
  lost?: (obj: BpfObject) => number;
}

function snapshotOf(entries: Array<[Buffer, Buffer]>, def: IrqToolDef, startNs: bigint, endNs: bigint, o: IrqOptions): IrqSnapshot {
  const stats: IrqStat[] = [];
  for (const [k, v] of entries) {
    const count = Number(v.readBigUInt64LE(def.offsets.count));
    if (count === 0) continue;
    stats.push({
      name: def.keyName(k),
      count,
      totalNs: Number(v.readBigUInt64LE(def.offsets.total_ns)),
      buckets: log2Buckets(v, { offset: def.offsets.slots, slots: 64 }),
    });
  }
  stats.sort((a, b) => a.totalNs - b.totalNs || (a.name < b.name ? -1 : 1));
  return { time: new Date(), startNs, endNs, unit: o.nanoseconds ? 'nsecs' : 'usecs', stats };
}

/** The periodic tool: its program and snapshots. */
export function defineIrqTool(def: IrqToolDef): PeriodicTool<typeof irqOptions, IrqSnapshot> {
  return definePeriodicTool({
    name: def.name,
    object: def.object,
    options: irqOptions,
    knobs: (o) => ({ targ_ns: !!o.nanoseconds, filter_cpu: o.cpu !== undefined, targ_cpu: o.cpu ?? 0 }),
    reader: (obj, o) => {
      const map = new CumulativeMap(obj, 'stats');
      return (startNs, endNs) => snapshotOf(map.take(), def, startNs, endNs, o);
    },
    lost: def.lost,
  });
}

export interface IrqCliDef {
  name: string;
  description: string;
  /** HARDIRQ or SOFTIRQ: the table's first column, and its width (BCC: 26, 16). */
  column: string;
  width: number;
  /** hardirq or softirq: the -d sections' name. */
  section: string;
  /** "hard irq" or "soft irq", for the banner and help. */
  what: string;
  /** -C's flags: hardirqs '-C, --count', softirqs '-C, --events'. */
  countFlag: string;
  /** Whether --help's examples show -C (softirqs' do, as BCC's; hardirqs' do not). */
  countExample?: boolean;
  tool: PeriodicTool<typeof irqOptions, IrqSnapshot>;
}

/** --help's examples, as BCC's (plus -c): the same for both tools but for the name and what is traced. */
function examplesOf(def: IrqCliDef): string {
  const ex = (args: string, what: string) => `\n    ${pad(`${def.name} ${args}`, 20)}# ${what}`;
  return (
    'examples:' +
    ex('', `sum ${def.what} event time`) +
    (def.countExample ? ex('-C', `show the number of ${def.what} events`) : '') +
    ex('-d', `show ${def.what} event time as histograms`) +
    ex('1 10', 'print 1 second summaries, 10 times') +
    ex('-NT 1', '1s summaries, nanoseconds, and timestamps') +
    ex('-c 1', `sum ${def.what} event time on CPU 1 only`)
  );
}

/** The CLI of both tools: BCC's flags, banner, table (or -d histograms) and --json. */
export function runIrqCli(def: IrqCliDef, argv = process.argv): Promise<number> {
  const flags = {
    timestamp: timestampFlag,
    nanoseconds: irqOptions.nanoseconds,
    events: option(def.countFlag, def.countFlag.includes('events') ? `show the number of ${def.what} events` : 'show event counts instead of timing', undefined, { cliOnly: true }),
    dist: option('-d, --dist', 'show distributions as histograms', undefined, { cliOnly: true }),
    cpu: irqOptions.cpu,
  };
  type F = { timestamp?: boolean; nanoseconds?: boolean; events?: boolean; dist?: boolean; cpu?: number };
  const label = (f: F) => (f.events ? 'count' : f.nanoseconds ? 'nsecs' : 'usecs');
  const print = (s: IrqSnapshot, f: F): string => {
    let out = periodHead(s.time, f.timestamp);
    if (f.dist) return out + log2Sections(s.stats.map((x) => ({ label: x.name, buckets: x.buckets })), s.unit, def.section);
    out += `${pad(def.column, def.width)} ${`TOTAL_${label(f)}`.padStart(11)}\n`;
    const rows = f.events ? [...s.stats].sort((a, b) => a.count - b.count) : s.stats;
    for (const x of rows) out += `${pad(x.name, def.width)} ${String(f.events ? x.count : nsIn(x.totalNs, s.unit)).padStart(11)}\n`;
    return out;
  };
  const json = (s: IrqSnapshot): object[] =>
    s.stats.map((x) => log2HistogramJson({ unit: s.unit, [def.section]: x.name }, x, s.unit));
  return runIntervalCli(
    {
      name: def.name,
      description: def.description,
      options: flags,
      examples: examplesOf(def),
      jsonFlag: { flags: '--json', help: `print one JSON object per ${def.section} and period` },
      check: (f: F) => {
        if (f.events && (f.dist || f.nanoseconds)) throw new UsageError(`the ${def.countFlag.split(', ')[1]} option can't be used with time-based options`);
      },
      start: (o) => def.tool.start(o),
      banner: (f: F) => `Tracing ${def.what} event${f.events ? 's' : ' time'}... Hit Ctrl-C to end.\n`,
      print,
      jsonLines: json,
      lostMessage: (n) => `${n} ${def.what} events not counted`,
    },
    argv,
  );
}

/** A whole irq tool's cli.ts: runIrqCli on the process's arguments, errors as one line and an exit code. */
export function irqMain(def: IrqCliDef): Promise<never> {
  return runCli(def.name, (argv) => runIrqCli(def, argv));
}
