// Shared benchmark plumbing: start a tracing tool, wait for its header, read
// its CPU time and peak RSS from /proc, stop it, and count its output lines.
// Numbers are printed, never asserted.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const TICK = 100; // USER_HZ: /proc/PID/stat times are in 1/100 s

/** Compiles a C source (once per run) and returns the binary's path. */
export function compileC(name, source) {
  const dir = mkdtempSync(join(tmpdir(), 'ebpf-bench-'));
  const src = join(dir, `${name}.c`);
  const bin = join(dir, name);
  writeFileSync(src, source);
  execFileSync('gcc', ['-O2', '-o', bin, src]);
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
