// A loopback connection storm for the TCP tools' benchmarks: tcplife's C
// storm (packages/tcplife/test/c/tcpstorm.c), compiled once. (In bench/support/:
// bench/run.mjs runs every bench/*.mjs as a benchmark.)
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { compileC } from '../lib.mjs';

const STORM_SRC = fileURLToPath(new URL('../../packages/tcplife/test/c/tcpstorm.c', import.meta.url));
let storm;

/** One storm of `conns` connections, `bytes` each way; resolves with { port, rate, serverPid, clientPid }. */
export function runStorm(conns, bytes = 0, family = 4) {
  storm ??= compileC('tcpstorm', readFileSync(STORM_SRC, 'utf8'));
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
