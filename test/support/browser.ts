// A real browser for tests of generated pages (flame graphs): Debian's
// chromium, headless, run to its exit. (Not a test file.)
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './workload.js';
import { tempDir } from './tmp.js';

const BIN = '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-dev-shm-usage'];

function need(): void {
  if (!existsSync(BIN)) throw new Error('chromium is not installed (apt-get install -y chromium)');
}

/** Each run gets its own profile directory (parallel tests, no shared state). */
const profileDir = () => `--user-data-dir=${tempDir('chromium-').dir}`;

/** The document after its scripts ran: `chromium --dump-dom URL`. */
export async function dumpDom(url: string): Promise<string> {
  need();
  const r = await run(BIN, [...FLAGS, profileDir(), '--dump-dom', url], { stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.code !== 0) throw new Error(`chromium --dump-dom exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** A PNG of the page; returns its path and size in bytes. */
export async function screenshot(url: string, width = 1200, height = 800): Promise<{ path: string; bytes: number }> {
  need();
  const path = join(tempDir('shot-').dir, 'page.png');
  const r = await run(BIN, [...FLAGS, profileDir(), `--screenshot=${path}`, `--window-size=${width},${height}`, url], { stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.code !== 0 || !existsSync(path)) throw new Error(`chromium --screenshot exited ${r.code}: ${r.stderr}`);
  return { path, bytes: statSync(path).size };
}
