// @ebpf/exporter: the tools' events and kernel histograms as metrics, for
// Prometheus (prom-client) and OpenTelemetry (a MetricProducer, OTLP/HTTP).
//
//   import { Registry } from 'prom-client';
//   import { startExporter } from '@ebpf/exporter';
//   const registry = new Registry();
//   const exp = await startExporter({ registry });   // every tool this machine can run
//   ... registry.metrics() ...
//   exp.close();
//
// Nothing is traced here: each tool runs through its typed API and the
// exporter keeps what it reports (batches of events, periodic histograms).
import { getSystemErrorName } from 'node:util';
import { Tracer, UsageError } from '@ebpf/core';
import { CgroupPaths } from '@ebpf/core/kit';
import { signalName } from '@ebpf/core/signals';
import { createRequire } from 'node:module';
import type { Registry } from 'prom-client';
import { CommCap, Counter, LabelCap, Log2Histogram, settleCaps, UNKNOWN, type Metric } from './metrics.js';
import { registerProm } from './prom.js';
import { metricProducer, registerMeterProvider, type MeterProviderLike, type OtlpPush, startOtlp } from './otel.js';
import type { MetricProducer } from '@opentelemetry/sdk-metrics';
import type { ExecEvent } from '@ebpf/execsnoop';
import type { ExitEvent } from '@ebpf/exitsnoop';
import type { SignalEvent } from '@ebpf/sigsnoop';
import type { OpenEvent } from '@ebpf/opensnoop';
import type { OomKill } from '@ebpf/oomkill';
import type { TcpSession } from '@ebpf/tcplife';

export { BOUNDS, SLOTS, OTHER, UNKNOWN, CommCap, LabelCap, Counter, Log2Histogram, settleCaps, type Metric } from './metrics.js';
export { metricProducer, registerMeterProvider, startOtlp, type MeterProviderLike, type OtlpPush } from './otel.js';

export const TOOLS = ['biolatency', 'runqlat', 'execsnoop', 'exitsnoop', 'sigsnoop', 'tcplife', 'opensnoop', 'oomkill'] as const;
export type ToolName = (typeof TOOLS)[number];
/** Labels a user may add to the per-process metrics (execs, exits, signals, open errors). */
export const LABELS = ['cgroup'] as const;
export type LabelName = (typeof LABELS)[number];
export interface ExporterOptions {
  /** Tools to run (default: all). With the default, a tool this machine cannot run is skipped (see `skipped`); named tools must start. */
  tools?: ToolName[];
  /** Command names with their own `comm` label value (default 50); the rest are "other". */
  commLimit?: number;
  /**
   * Labels added to the per-process metrics (execs, exits, signals, open
   * errors). 'cgroup': the task's cgroup v2 path ('/system.slice/foo.service';
   * for signals the sender's), "unknown" when the cgroup was removed before
   * it could be named. Default: none.
   */
  labels?: LabelName[];
  /** Cgroup paths with their own `cgroup` label value (default 50); the rest are "other". */
  cgroupLimit?: number;
  /** Register the metrics in this prom-client registry (default: a new one, `registry`). */
  registry?: Registry;
  /** Register the counters in this OpenTelemetry MeterProvider too (histograms: use `producer`, see registerMeterProvider). */
  meterProvider?: MeterProviderLike;
  /** Push to this OTLP/HTTP metrics URL (http://host:4318/v1/metrics). */
  otlpUrl?: string;
  /** OTLP push interval in ms (default 15000). */
  otlpIntervalMs?: number;
  /** Where a skipped tool is reported (default: stderr). */
  warn?: (line: string) => void;
}

interface Running {
  name: ToolName;
  close(): void;
  /** Reads periodic histograms (periodic tools). */
  read?(): void;
  /** Events lost so far (ring buffer drops, kernel-side misses). */
  lost(): number;
}

export interface Exporter {
  registry: Registry;
  /** The same metrics for an OpenTelemetry MetricReader (`metricProducers: [exporter.producer]`). */
  producer: MetricProducer;
  metrics: Metric[];
  /** Tools running, and tools skipped with why. */
  running: ToolName[];
  skipped: Array<{ tool: ToolName; reason: string }>;
  /** Reads the periodic tools and settles the comm and cgroup caps (each exposition does this first). */
  refresh(): void;
  /** Stops the tools (a last OTLP push first, when pushing). */
  close(): Promise<void>;
}

const lower = (s: string) => s.toLowerCase();

/** Starts the tools and the metrics they feed. */
export async function startExporter(opts: ExporterOptions = {}): Promise<Exporter> {
  for (const t of opts.tools ?? []) if (!TOOLS.includes(t)) throw new UsageError(`unknown tool '${String(t)}' (tools: ${TOOLS.join(', ')})`);
  const limit = opts.commLimit ?? 50;
  if (!Number.isSafeInteger(limit) || limit < 1) throw new UsageError(`commLimit must be a positive integer, got ${String(limit)}`);
  const cap = new CommCap(limit);
  for (const l of opts.labels ?? []) if (!LABELS.includes(l)) throw new UsageError(`unknown label '${String(l)}' (labels: ${LABELS.join(', ')})`);
  const cgLimit = opts.cgroupLimit ?? 50;
  if (!Number.isSafeInteger(cgLimit) || cgLimit < 1) throw new UsageError(`cgroupLimit must be a positive integer, got ${String(cgLimit)}`);
  const cg = opts.labels?.includes('cgroup') ? cgroupLabel(cgLimit) : undefined;
  const caps: LabelCap[] = cg ? [cap, cg.cap] : [cap];
  const withCg = (names: string[]) => (cg ? [...names, 'cgroup'] : names);
  const m = {
    bio: new Log2Histogram('ebpf_block_io_latency_seconds', 'Block I/O latency from issue to completion (biolatency), per disk and operation.', ['disk', 'op']),
    runq: new Log2Histogram('ebpf_runqueue_latency_seconds', 'Time tasks waited on a run queue (runqlat).', []),
    execs: new Counter('ebpf_execs_total', `Successful execve() calls (execsnoop), by new command name${cg ? ' and cgroup' : ''}.`, withCg(['comm']), '1', caps),
    exits: new Counter('ebpf_exits_total', `Process exits (exitsnoop), by command, exit code or terminating signal${cg ? ', and cgroup' : ''}.`, withCg(['comm', 'code', 'signal']), '1', caps),
    signals: new Counter('ebpf_signals_total', `Signals sent (sigsnoop), by signal and result (delivered, ignored, or the errno of a failed call)${cg ? ", and the sender's cgroup" : ''}.`, withCg(['signal', 'result']), '1', caps),
    tcpSessions: new Counter('ebpf_tcp_sessions_total', 'TCP sessions closed (tcplife), by command and side (active: connect, passive: accept).', ['comm', 'side'], '1', cap),
    tcpBytes: new Counter('ebpf_tcp_bytes_total', 'Bytes of closed TCP sessions (tcplife), by command and direction (tx, rx).', ['comm', 'direction'], 'By', cap),
    tcpDuration: new Log2Histogram('ebpf_tcp_session_duration_seconds', 'Lifetime of closed TCP sessions (tcplife).', []),
    openErrors: new Counter('ebpf_open_errors_total', `Failed open()/openat()/openat2() calls (opensnoop), by command and errno${cg ? ', and cgroup' : ''}.`, withCg(['comm', 'errno']), '1', caps),
    oom: new Counter('ebpf_oom_kills_total', 'Processes killed by the OOM killer (oomkill), by victim command.', ['comm'], '1', cap),
    lost: new Counter('ebpf_exporter_lost_events_total', 'Events a tool saw but could not report (ring buffer full, tables full).', ['tool']),
  };
  const metrics: Metric[] = Object.values(m);
  const pushFailures = new Counter('ebpf_exporter_otlp_push_failures_total', 'OTLP pushes that failed (collector unreachable or refusing).', []);
  if (opts.otlpUrl !== undefined) metrics.push(pushFailures);
  // No tool here loads a tp_btf program (runqlat runs its raw_tp set): libbpf
  // 1.1 would read and copy the whole kernel BTF for one (2 x 5.2 MiB here),
  // and that moment set the exporter's peak RSS.
  const wanted = [...(opts.tools ?? TOOLS)];
  const strict = opts.tools !== undefined;
  const warn = opts.warn ?? ((l: string) => process.stderr.write(`ebpf-exporter: ${l}\n`));
  const running: Running[] = [];
  const skipped: Array<{ tool: ToolName; reason: string }> = [];

  for (const name of wanted) {
    try {
      running.push(await start(name, m, cg?.of ?? none));
    } catch (err) {
      for (const r of running) r.close();
      if (strict) throw err;
      const reason = err instanceof Error ? err.message : String(err);
      skipped.push({ tool: name, reason });
      warn(`${name} skipped: ${reason}`);
    }
  }

  let fresh = false;
  const refresh = () => {
    if (fresh) return;
    fresh = true;
    setImmediate(() => (fresh = false)); // one read per exposition, however many metrics it asks
    for (const r of running) {
      r.read?.();
      m.lost.set([r.name], r.lost());
    }
    settleCaps(caps);
  };

  // prom-client's registry alone: its index loads every metric type, cluster
  // support and default metrics (about 9 MB more resident memory).
  const registry = opts.registry ?? new (createRequire(import.meta.url)('prom-client/lib/registry') as typeof Registry)();
  registerProm(registry, metrics, refresh);
  const producer = metricProducer(metrics, refresh);
  if (opts.meterProvider) registerMeterProvider(opts.meterProvider, metrics, refresh);
  let push: OtlpPush | undefined;
  if (opts.otlpUrl !== undefined) push = await startOtlp(producer, opts.otlpUrl, opts.otlpIntervalMs ?? 15000, { count: () => pushFailures.inc([]), warn });

  let closed = false;
  return {
    registry,
    producer,
    metrics,
    running: running.map((r) => r.name).sort((a, b) => (opts.tools ?? TOOLS).indexOf(a) - (opts.tools ?? TOOLS).indexOf(b)),
    skipped,
    refresh,
    async close() {
      if (closed) return;
      closed = true;
      // The last events and histograms first, then the tools stop, then the last push.
      refresh();
      for (const r of running) r.close();
      if (push) await push.close();
    },
  };
}

type M = {
  bio: Log2Histogram;
  runq: Log2Histogram;
  execs: Counter;
  exits: Counter;
  signals: Counter;
  tcpSessions: Counter;
  tcpBytes: Counter;
  tcpDuration: Log2Histogram;
  openErrors: Counter;
  oom: Counter;
  lost: Counter;
};

/**
 * The streaming tools' rings: an exporter reads at each scrape or push, not
 * for a terminal, so the rings are drained every 250 ms (and when a quarter
 * full, the kit's wake-up) instead of every 20 ms, and at each read (flush).
 * Each drain is one batch: one call per batch here.
 *
 * Ring sizes are the exporter's, not the tools' CLI defaults (sigsnoop's 8 MiB
 * is for printing a kill storm): the kernel maps a ring's data pages twice
 * and all of them count in the exporter's resident memory, so 2 x size each.
 * Sized from the records each tool sends (execsnoop's hold the arguments,
 * opensnoop's the path; the others' are fixed and small); a burst
 * bigger than a ring is counted in ebpf_exporter_lost_events_total.
 */
const DRAIN_MS = 250;
// tcplife's 256 KiB: a loopback storm of 9 000 sessions/s (tcplife's
// tcpstorm.c) lost 508 of 40 000 sessions once through 64 KiB on this loaded
// 2-core machine, none through 256 KiB.
const RING_BYTES: Record<string, number> = { execsnoop: 128 << 10, opensnoop: 128 << 10, tcplife: 256 << 10, exitsnoop: 64 << 10, sigsnoop: 64 << 10, oomkill: 16 << 10 };
/** The most bytes handed to JavaScript per call (the reader's buffer is this plus 64 KiB). */
const BATCH_BYTES = 64 << 10;

/** Starts an event tool through its typed API with the exporter's ring, batch and drain interval. */
function startTool<E, R extends Tracer<E> = Tracer<E>>(
  tool: { def: { name: string }; start(o: any, make: (l: any) => R): R },
  opts: object = {},
  make: (l: any) => R = (l) => new Tracer<E>(l) as R,
): R {
  return tool.start({ ...opts, ringBytes: RING_BYTES[tool.def.name] }, (l) => make({ ...l, intervalMs: DRAIN_MS, batchBytes: BATCH_BYTES }));
}

/** A streaming tool: every batch updates the counters; lost = the ring's drops (+ extra). */
function stream<E>(name: ToolName, t: Tracer<E>, onBatch: (b: E[]) => void, extra?: () => number): Running {
  t.subscribe(onBatch);
  return { name, read: () => t.flush(), close: () => t.close(), lost: () => t.lost().ring + (extra?.() ?? 0) };
}

/** No cgroup label: the label list as it is. */
const none = (labels: string[]) => labels;

/**
 * The `cgroup` label: a cgroup id's path, capped at `limit` paths. An id the
 * kit's CgroupPaths cannot name at the batch (a cgroup made since its last
 * walk, when it may not walk again yet) waits as '#id' until the next read:
 * then one walk names it, or it is "unknown" (removed). '#' never starts a path.
 */
function cgroupLabel(limit: number): { cap: LabelCap; of: (labels: string[], id: bigint) => string[] } {
  // The first walk at the first event, once the tools are loaded (what is resident while they load adds to the peak).
  let paths: CgroupPaths | undefined;
  const cap = new LabelCap('cgroup', limit, {
    free: [UNKNOWN],
    resolve: (waiting) => {
      for (const v of waiting) {
        if (v[0] !== '#') continue;
        paths!.rescan(); // once per read, and only when an id waits
        break;
      }
      return (v) => (v[0] === '#' ? (paths!.known(BigInt(v.slice(1))) ?? UNKNOWN) : v);
    },
  });
  return {
    cap,
    of: (labels, id) => {
      labels.push((paths ??= new CgroupPaths()).path(id) ?? `#${id}`);
      return labels;
    },
  };
}

type WithCgroup = (labels: string[], cgroupId: bigint) => string[];

async function start(name: ToolName, m: M, cg: WithCgroup): Promise<Running> {
  switch (name) {
    case 'biolatency': {
      const { biolatency } = await import('@ebpf/biolatency');
      const bio = biolatency({ perDisk: true, perFlags: true });
      // Each snapshot holds the I/O since the last (the kernel maps are double-buffered).
      const read = (s: ReturnType<typeof bio.snapshot>) => {
        for (const h of s.histograms) m.bio.addSlots([h.disk?.name ?? '', lower(h.flags?.op ?? '')], h.buckets, h.totalNs / 1e9);
      };
      return { name, read: () => bio.closed || read(bio.snapshot()), close: () => { const s = bio.close(); if (s) read(s); }, lost: () => bio.lost() };
    }
    case 'runqlat': {
      const { runqlat } = await import('@ebpf/runqlat');
      // raw_tp: no kernel BTF read at load (see rawTracepoints).
      const rq = runqlat({ rawTracepoints: true });
      const read = (s: ReturnType<typeof rq.snapshot>) => {
        for (const h of s.histograms) m.runq.addSlots([], h.buckets, h.totalNs / 1e9);
      };
      return { name, read: () => rq.closed || read(rq.snapshot()), close: () => { const s = rq.close(); if (s) read(s); }, lost: () => rq.lost() };
    }
    case 'execsnoop': {
      const { tool } = await import('@ebpf/execsnoop');
      return stream(name, startTool<ExecEvent>(tool), (b: ExecEvent[]) => {
        for (const ev of b) m.execs.inc(cg([ev.comm], ev.cgroupId));
      });
    }
    case 'exitsnoop': {
      const { tool } = await import('@ebpf/exitsnoop');
      return stream(name, startTool<ExitEvent>(tool), (b: ExitEvent[]) => {
        for (const ev of b) m.exits.inc(cg([ev.comm, ev.exitCode === null ? '' : String(ev.exitCode), ev.signalName ?? ''], ev.cgroupId));
      });
    }
    case 'sigsnoop': {
      const { tool } = await import('@ebpf/sigsnoop');
      return stream(name, startTool<SignalEvent>(tool), (b: SignalEvent[]) => {
        for (const ev of b) {
          const result = ev.ret !== null && ev.ret < 0 ? errnoName(-ev.ret) : (ev.delivery ?? 'none');
          m.signals.inc(cg([ev.sig === 0 ? '0' : (signalName(ev.sig) ?? String(ev.sig)), result], ev.cgroupId));
        }
      });
    }
    case 'tcplife': {
      const { tool, TcplifeTracer } = await import('@ebpf/tcplife');
      const t = startTool<TcpSession, InstanceType<typeof TcplifeTracer>>(tool, {}, (l) => new TcplifeTracer(l));
      return stream(
        name,
        t,
        (b) => {
          for (const ev of b) {
            m.tcpSessions.inc([ev.comm, ev.active ? 'active' : 'passive']);
            if (ev.txBytes) m.tcpBytes.inc([ev.comm, 'tx'], ev.txBytes);
            if (ev.rxBytes) m.tcpBytes.inc([ev.comm, 'rx'], ev.rxBytes);
            m.tcpDuration.observeUs([], Math.floor(ev.durationNs / 1000));
          }
        },
        () => t.untracked(),
      );
    }
    case 'opensnoop': {
      const { tool } = await import('@ebpf/opensnoop');
      return stream(name, startTool<OpenEvent>(tool, { failed: true }), (b: OpenEvent[]) => {
        for (const ev of b) if (ev.errno) m.openErrors.inc(cg([ev.comm, errnoName(ev.errno)], ev.cgroupId));
      });
    }
    case 'oomkill': {
      const { tool } = await import('@ebpf/oomkill');
      return stream(name, startTool<OomKill>(tool), (b: OomKill[]) => {
        for (const ev of b) m.oom.inc([ev.comm]);
      });
    }
  }
}

/** 'ENOENT' for 2, as Node names system errors (Linux's EOPNOTSUPP for 95); 'E<n>' for numbers without a name. */
function errnoName(errno: number): string {
  if (errno === 95) return 'EOPNOTSUPP';
  try {
    return getSystemErrorName(-errno);
  } catch {
    return `E${errno}`;
  }
}
