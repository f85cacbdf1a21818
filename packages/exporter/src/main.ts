// ebpf-exporter (dist/cli.js sets V8's flags, then loads this): serves the
// tools' metrics on --listen (Prometheus text) and pushes them to --otlp
// (OTLP/HTTP protobuf). Flags win over the --config file.
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { UsageError } from '@ebpf/core';
import { commanderExit, commanderOutput, runMain } from '@ebpf/core/cli';
import { LABELS, startExporter, TOOLS, type LabelName, type ToolName } from './index.js';

interface Config {
  listen?: string;
  otlp?: string;
  otlpIntervalSeconds?: number;
  tools?: string[];
  commLimit?: number;
  labels?: string[];
  cgroupLimit?: number;
}

const CONFIG_KEYS = ['listen', 'otlp', 'otlpIntervalSeconds', 'tools', 'commLimit', 'labels', 'cgroupLimit'];

function readConfig(path: string): Config {
  let c: unknown;
  try {
    c = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UsageError(`cannot read config '${path}': ${(err as Error).message.split('\n')[0]}`);
  }
  if (typeof c !== 'object' || c === null || Array.isArray(c)) throw new UsageError(`config '${path}' must be a JSON object`);
  for (const k of Object.keys(c)) if (!CONFIG_KEYS.includes(k)) throw new UsageError(`config '${path}': unknown key '${k}' (keys: ${CONFIG_KEYS.join(', ')})`);
  return c as Config;
}

function tools(v: unknown): ToolName[] {
  const list = typeof v === 'string' ? v.split(',').filter(Boolean) : v;
  if (!Array.isArray(list) || list.length === 0) throw new UsageError(`tools must be a non-empty list of: ${TOOLS.join(', ')}`);
  for (const t of list) if (!TOOLS.includes(t)) throw new UsageError(`unknown tool '${String(t)}' (tools: ${TOOLS.join(', ')})`);
  return list as ToolName[];
}

function labels(v: unknown): LabelName[] {
  const list = typeof v === 'string' ? v.split(',').filter(Boolean) : v;
  if (!Array.isArray(list)) throw new UsageError(`labels must be a list of: ${LABELS.join(', ')}`);
  for (const l of list) if (!LABELS.includes(l)) throw new UsageError(`unknown label '${String(l)}' (labels: ${LABELS.join(', ')})`);
  return list as LabelName[];
}

function positive(what: string, v: unknown): number {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`${what} must be a positive integer, got ${String(v)}`);
  return n;
}

function address(v: unknown): { host: string; port: number } | null {
  if (v === 'none') return null;
  const m = typeof v === 'string' ? /^(?:(\[[0-9a-fA-F:]+\]|[^:]+):)?(\d{1,5})$/.exec(v) : null;
  const port = m ? Number(m[2]) : -1;
  if (!m || port > 65535) throw new UsageError(`--listen must be [HOST:]PORT or none, got '${String(v)}'`);
  return { host: (m[1] ?? '127.0.0.1').replace(/^\[|\]$/g, ''), port };
}

function url(v: unknown): string {
  try {
    const u = new URL(String(v));
    if (u.protocol === 'http:' || u.protocol === 'https:') return u.href;
  } catch {}
  throw new UsageError(`--otlp must be an http(s) URL (http://HOST:4318/v1/metrics), got '${String(v)}'`);
}

await runMain('ebpf-exporter', async () => {
  const cmd = new Command('ebpf-exporter')
    .description("Export eBPF tools' events and histograms as Prometheus and OpenTelemetry metrics")
    .option('-l, --listen <[HOST:]PORT>', 'serve /metrics here ("none": do not serve)')
    .option('--otlp <URL>', 'push OTLP/HTTP protobuf metrics to this URL (e.g. http://127.0.0.1:4318/v1/metrics)')
    .option('--otlp-interval <SECONDS>', 'OTLP push interval (default 15)')
    .option('-t, --tools <LIST>', `comma-separated tools (default: every one this machine can run): ${TOOLS.join(',')}`)
    .option('--comm-limit <N>', 'command names with their own comm label; the rest are "other" (default 50)')
    .option('--labels <LIST>', `labels added to execs, exits, signals and open errors: ${LABELS.join(',')} (default: none)`)
    .option('--cgroup-limit <N>', 'cgroup paths with their own cgroup label; the rest are "other" (default 50)')
    .option('-c, --config <FILE>', 'JSON config: {"listen","otlp","otlpIntervalSeconds","tools","commLimit","labels","cgroupLimit"}; flags win')
    .exitOverride(commanderExit)
    .configureOutput(commanderOutput('ebpf-exporter'))
    .parse(process.argv);
  const f = cmd.opts<{ listen?: string; otlp?: string; otlpInterval?: string; tools?: string; commLimit?: string; labels?: string; cgroupLimit?: string; config?: string }>();
  const c = f.config !== undefined ? readConfig(f.config) : {};
  const listen = address(f.listen ?? c.listen ?? '127.0.0.1:9435');
  const otlp = f.otlp ?? c.otlp;
  const otlpUrl = otlp === undefined ? undefined : url(otlp);
  const intervalS = positive('the OTLP interval', f.otlpInterval ?? c.otlpIntervalSeconds ?? 15);
  const toolList = f.tools ?? c.tools;
  const commLimit = positive('the comm limit', f.commLimit ?? c.commLimit ?? 50);
  const labelList = labels(f.labels ?? c.labels ?? []);
  const cgroupLimit = positive('the cgroup limit', f.cgroupLimit ?? c.cgroupLimit ?? 50);
  if (!listen && otlpUrl === undefined) throw new UsageError('nothing to do: --listen none and no --otlp');

  let started = false;
  // A skipped tool is one line, once the others run; none running: one line with the reasons.
  const exp = await startExporter({ tools: toolList === undefined ? undefined : tools(toolList), commLimit, labels: labelList, cgroupLimit, otlpUrl, otlpIntervalMs: intervalS * 1000, warn: (l) => started && process.stderr.write(`ebpf-exporter: ${l}\n`) });
  started = true;
  if (exp.running.length === 0) {
    await exp.close();
    throw new Error(`no tool could start: ${[...new Set(exp.skipped.map((s) => s.reason))].join('; ')}`);
  }
  for (const s of exp.skipped) process.stderr.write(`ebpf-exporter: ${s.tool} skipped: ${s.reason}\n`);
  let server: import('node:http').Server | undefined;
  if (listen) {
    // Loaded once the tools run: what is resident while they load sets the peak (see index.ts).
    const { createServer } = await import('node:http');
    server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path !== '/metrics') {
        res.writeHead(path === '/' ? 200 : 404, { 'content-type': 'text/plain' }).end(path === '/' ? 'ebpf-exporter: see /metrics\n' : 'not found\n');
        return;
      }
      exp.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': exp.registry.contentType }).end(text),
        (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server!.once('error', (err: NodeJS.ErrnoException) => reject(new UsageError(`cannot listen on ${listen.host}:${listen.port}: ${err.code ?? err.message}`)));
      server!.listen(listen.port, listen.host, resolve);
    }).catch(async (err) => {
      await exp.close();
      throw err;
    });
    const a = server.address();
    process.stderr.write(`ebpf-exporter: ${exp.running.join(', ')} on http://${typeof a === 'object' && a ? `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}` : ''}/metrics\n`);
  }
  if (otlpUrl) process.stderr.write(`ebpf-exporter: pushing to ${otlpUrl} every ${intervalS} s\n`);

  // Every ending detaches the tools and makes a last push.
  await new Promise<void>((resolve) => {
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(s, () => resolve());
  });
  server?.close();
  server?.closeAllConnections();
  await exp.close();
  return 0;
});
