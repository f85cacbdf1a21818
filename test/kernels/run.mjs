// npm run test:kernels [-- KERNEL...]: the smoke set (smoke.mjs) under each
// kernel of the matrix, booted by scripts/kernels/boot.sh, then a table of
// tool × kernel. Exit status: the number of kernels with a failure.
//
//   KERNEL: 6.1 (Debian 12's own), 6.12 (Debian 12 backports), 5.10 (Debian 11)
//   --full  the whole vitest suite in the guest instead of the smoke set
//           (minus the packaging test, which needs the network, and the
//           matrix itself; ~12x slower)
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { prepare } from './smoke.mjs';

export const MATRIX = ['6.1', '6.12', '5.10'];
const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** Boots `kernel`, runs the smoke set there; resolves with its exit code and output (echoed unless `echo` is false). */
export function smokeUnder(kernel, tools = [], { echo = true } = {}) {
  return new Promise((resolve) => {
    const child = spawn('bash', ['scripts/kernels/boot.sh', kernel, ['node test/kernels/smoke.mjs', ...tools].join(' ')], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      if (echo) process.stdout.write(d);
    });
    child.stderr.setEncoding('utf8').on('data', (d) => (echo ? process.stderr.write(d) : (out += d)));
    child.on('close', (code) => resolve({ code, out }));
  });
}

/** tool → 'ok' | 'FAIL' | 'skip', from smoke.mjs's lines. */
export function parseSmoke(out) {
  const results = {};
  for (const m of out.matchAll(/^(ok|FAIL|skip) ([\w-]+)/gm)) results[m[2]] = m[1];
  return results;
}

async function main() {
  const args = process.argv.slice(2);
  const full = args.includes('--full');
  const kernels = args.filter((a) => !a.startsWith('--'));
  prepare();
  const table = {};
  let failed = 0;
  for (const k of kernels.length ? kernels : MATRIX) {
    console.log(`\n### kernel ${k}`);
    const { code, out } = full
      ? await new Promise((resolve) => {
          const child = spawn('bash', ['scripts/kernels/boot.sh', k, 'npx vitest run --exclude test/packaging.test.ts --exclude test/kernels.test.ts'], { cwd: REPO, stdio: 'inherit' });
          child.on('close', (c) => resolve({ code: c, out: '' }));
        })
      : await smokeUnder(k);
    table[k] = parseSmoke(out);
    if (code !== 0) failed++;
  }
  if (!full) {
    const tools = [...new Set(Object.values(table).flatMap((r) => Object.keys(r)))];
    const ks = Object.keys(table);
    console.log(`\n${['tool', ...ks].map((c) => c.padEnd(12)).join('')}`);
    for (const t of tools) console.log([t, ...ks.map((k) => table[k][t] ?? '-')].map((c) => c.padEnd(12)).join(''));
  }
  process.exitCode = failed;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
