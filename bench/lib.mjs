// Shared benchmark plumbing: start a tracing tool, wait for its header, read
// its CPU time and peak RSS from /proc, stop it, and count its output lines.
// Numbers are printed, never asserted.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const TICK = 100; // USER_HZ: /proc/PID/stat times are in 1/100 s

/** Compiles a C source (once per run) and returns the binary's path; `flags` go to gcc too (-I for a source's own folder). */
export function compileC(name, source, flags = []) {
  const dir = mkdtempSync(join(tmpdir(), 'ebpf-bench-'));
  const src = join(dir, `${name}.c`);
  const bin = join(dir, name);
  writeFileSync(src, source);
  execFileSync('gcc', ['-O2', ...flags, '-o', bin, src]);
  return bin;
}

/** CPU seconds (user+system) and peak RSS (bytes) of a live process. */
export function procStats(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpu = (Number(f[11]) + Number(f[12])) / TICK;
  const hwm = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmHWM:\s+(\d+) kB/m);
  return { cpu, peakRss: hwm ? Number(hwm[1]) * 1024 : NaN };
}

/**
 * Starts a tool and resolves once a line matching `ready` appears on stdout.
 * Returns { child, startMs (spawn → header), lines() , stop() }.
 */
export function startTool(cmd, args, ready, env = {}) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let buf = '';
    let count = 0;
    let started = false;
    let stderr = '';
    const counters = [];
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!started && ready.test(line)) {
          started = true;
          const startMs = Number(process.hrtime.bigint() - t0) / 1e6;
          resolve({
            child,
            startMs,
            count: () => count,
            onLine: (fn) => counters.push(fn),
            stderr: () => stderr,
            stop: () => stopChild(child),
          });
          continue;
        }
        count++;
        for (const fn of counters) fn(line);
      }
    });
    child.on('exit', (code) => {
      if (!started) reject(new Error(`${cmd} exited (${code}) before its header: ${stderr.trim()}`));
    });
  });
}

export function stopChild(child, signal = 'SIGINT') {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    child.once('close', (code) => resolve(code));
    child.kill(signal);
  });
}

/** Runs a command to completion; resolves with wall milliseconds. */
export function timeRun(cmd, args) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', () => resolve(Number(process.hrtime.bigint() - t0) / 1e6));
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export const fmt = (n, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
export const mb = (b) => fmt(b / (1024 * 1024), 1);

/** Prints rows of columns, left-aligned, for the bench report. */
export function printTable(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  for (const r of rows) console.log(r.map((c, i) => String(c).padEnd(widths[i])).join('  ').trimEnd());
}

/** Median (min–max) of a list, as a table cell. */
export const spread = (xs, d = 0) => `${fmt(median(xs), d)} (${fmt(Math.min(...xs), d)}–${fmt(Math.max(...xs), d)})`;

/** How many fds of a live process are BPF links (or, with `kinds`, links of those anon-inode kinds). */
export function bpfLinks(pid, kinds = /^anon_inode:bpf_link$/) {
  try {
    return readdirSync(`/proc/${pid}/fd`).filter((fd) => {
      try {
        return kinds.test(readlinkSync(`/proc/${pid}/fd/${fd}`));
      } catch {
        return false;
      }
    }).length;
  } catch {
    return 0;
  }
}

/**
 * Spawns a tool with its stdout and stderr piped and resolves once it holds
 * `links` BPF links (its programs are attached): { child, startMs, out(),
 * stderr() }. A tool that exits first, or takes over 30 s, rejects.
 */
export async function startAttached(cmd, args, { links = 1, kinds } = {}) {
  const t0 = process.hrtime.bigint();
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  const deadline = Date.now() + 30_000;
  while (bpfLinks(child.pid, kinds) < links) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${cmd} did not attach: ${stderr}`);
    await sleep(5);
  }
  const startMs = Number(process.hrtime.bigint() - t0) / 1e6;
  return { child, startMs, out: () => out, stderr: () => stderr };
}

/**
 * Starts a storm program that prints "ready", waits for a byte on stdin,
 * runs, prints one line of numbers and waits for stdin to close. Resolves
 * once it is ready with { pid, go(), stop() }: go() runs it and resolves with
 * the numbers of its line; stop() closes its stdin and waits for its end.
 */
export function startStorm(bin, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.on('error', reject);
    child.stdout.setEncoding('utf8').on('data', (d) => {
      const was = out;
      out += d;
      if (was.startsWith('ready\n') || !out.startsWith('ready\n')) return;
      resolve({
        pid: child.pid,
        go: () =>
          new Promise((r) => {
            const check = () => {
              const m = out.slice(6).match(/^([\d ]+)\n/);
              if (m) r(m[1].split(' ').map(Number));
              else setTimeout(check, 5);
            };
            child.stdin.write('x');
            check();
          }),
        stop: () =>
          new Promise((r) => {
            child.once('close', r);
            child.stdin.end();
          }),
      });
    });
  });
}

/**
 * One storm round under a tool: 'ours' (node `cli`), 'ref' (the C tool
 * `ref`) or none (untraced). Starts the storm, then the tool with
 * args(stormPid) until `links` are attached, waits past its start-up's own
 * work, runs the storm, reads the tool's peak RSS, stops it with SIGINT.
 * Resolves with { numbers (the storm's line), peakRss, out (the tool's stdout) }.
 */
export async function stormRound(storm, tool, { cli, ref, args = () => [], links = 1 }) {
  const s = await startStorm(...storm);
  let t;
  if (tool) {
    t = tool === 'ours' ? await startAttached(process.execPath, [cli, ...args(s.pid)], { links }) : await startAttached(ref, args(s.pid), { links });
    await sleep(200);
  }
  const numbers = await s.go();
  let peakRss = NaN;
  if (t) {
    peakRss = procStats(t.child.pid).peakRss;
    await stopChild(t.child);
  }
  await s.stop();
  return { numbers, peakRss, out: t ? t.out() : '' };
}

/** Runs every configuration [name, ...rest] `rounds` times, alternating them (noise spreads evenly); a Map name → results. */
export async function alternate(configs, rounds, fn) {
  const results = new Map(configs.map(([name]) => [name, []]));
  for (let i = 0; i < rounds; i++) for (const [name, ...rest] of configs) results.get(name).push(await fn(...rest));
  return results;
}

/**
 * One storm under a tool: starts it (ready at its `header` line), counts its
 * rows of the storm (isRow), runs storm(), then waits until no row came for
 * 300 ms (the reader has drained what was buffered). Resolves with the storm's
 * result, the rows seen, the tool's CPU seconds over it, its peak RSS and its
 * stderr.
 */
export async function tracedStorm(cmd, args, header, isRow, storm) {
  const tool = await startTool(cmd, args, header);
  let seen = 0;
  tool.onLine((l) => {
    if (isRow(l)) seen++;
  });
  const before = procStats(tool.child.pid);
  const result = await storm();
  let last = -1;
  while (seen !== last) {
    last = seen;
    await sleep(300);
  }
  const after = procStats(tool.child.pid);
  await tool.stop();
  return { result, seen, cpu: after.cpu - before.cpu, peakRss: after.peakRss, stderr: tool.stderr().trim() };
}
