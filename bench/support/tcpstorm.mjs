// A loopback connection storm for the TCP tools' benchmarks: tcplife's C
// storm (packages/tcplife/test/c/tcpstorm.c), compiled once, and the rounds
// they share: the storm untraced, traced by ours, traced by libbpf-tools'.
// (In bench/support/: bench/run.mjs runs every bench/*.mjs as a benchmark.)
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileC, procStats, sleep, startAttached, startTool, stopChild } from '../lib.mjs';

const STORM_SRC = fileURLToPath(new URL('../../packages/tcplife/test/c/tcpstorm.c', import.meta.url));
let storm;

/** One storm of `conns` connections, `bytes` each way; resolves with { port, rate, serverPid, clientPid }. */
export function runStorm(conns, bytes = 0, family = 4) {
  storm ??= compileC('tcpstorm', readFileSync(STORM_SRC, 'utf8'), ['-I', dirname(STORM_SRC)]);
  return new Promise((resolve, reject) => {
    const child = spawn(storm, [String(conns), String(bytes), String(family)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const m = out.match(/^port (\d+) server (\d+) client (\d+)/m);
      const secs = Number(out.match(/^done \d+ ([\d.]+)/m)?.[1]);
      if (code !== 0 || !m || !secs) reject(new Error(`tcpstorm failed (${code}): ${out}`));
      else resolve({ port: Number(m[1]), serverPid: Number(m[2]), clientPid: Number(m[3]), rate: conns / secs });
    });
  });
}

/** Ours (node `cli`, with $BENCH_NODE_FLAGS), ready at its `header` line: { child, startMs, lines(), stderr(), stop() }. */
export async function startOurs(cli, header) {
  const nodeFlags = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const t = await startTool(process.execPath, [...nodeFlags, cli], header);
  const lines = [];
  t.onLine((l) => lines.push(l));
  return { child: t.child, startMs: t.startMs, lines: () => lines, stderr: t.stderr, stop: t.stop };
}

/** A libbpf-tools tool, stdout a pipe (block-buffered, as a user's `> file`): ready once attached (a BPF link or perf event appears). */
export async function startRef(ref) {
  const t = await startAttached(ref, [], { kinds: /^anon_inode:(bpf_link|\[perf_event\])$/ });
  await sleep(200); // let it reach its poll loop
  return { child: t.child, startMs: t.startMs, lines: () => t.out().split('\n'), stderr: t.stderr, stop: () => stopChild(t.child) };
}

/** Rows whose blank-split fields `a` or `b` are the storm's port. */
export const portIn = (a, b = a) => (port) => (line) => {
  const f = line.trim().split(/\s+/);
  return f[a] === String(port) || f[b] === String(port);
};

/**
 * One storm of `conns` connections under a tool `start()` starts: its rate,
 * the tool's rows of it (isRow(port)), the tool's CPU seconds over the storm,
 * peak RSS, start-up time and stderr.
 */
export async function traced(start, conns, isRow) {
  const tool = await start();
  const before = procStats(tool.child.pid);
  const { port, rate } = await runStorm(conns);
  await sleep(300); // let the reader drain what is still in the ring
  const after = procStats(tool.child.pid);
  await tool.stop();
  const seen = tool.lines().filter(isRow(port)).length;
  return { rate, seen, cpu: after.cpu - before.cpu, peakRss: after.peakRss, startMs: tool.startMs, stderr: tool.stderr().trim() };
}

/** `rounds` rounds alternating the storm untraced and traced by each of `starts`: { base: untraced rates, traced: results per start }. */
export async function tcpRounds(rounds, conns, isRow, starts) {
  const base = [];
  const runs = starts.map(() => []);
  for (let i = 0; i < rounds; i++) {
    base.push((await runStorm(conns)).rate);
    for (const [j, start] of starts.entries()) runs[j].push(await traced(start, conns, isRow));
  }
  return { base, traced: runs };
}
