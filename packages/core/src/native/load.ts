// Finds and loads the native addon, once, on first use. When nothing loads,
// the error says what was tried and how to fix it.
//
// The plain functions of the addon throw raw errors (binding.ts); the binding
// returned here has them worded as their callers have always seen them
// ('map lookup: No such file or directory'), with code, errno and op.
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import type { Binding } from './binding.js';
import { NativeLoadError } from '../errors.js';
import { useStrerror, wordNativeError } from './errno.js';

const require = createRequire(import.meta.url);

/**
 * Where @ebpf/core is installed: two folders up from this module, unless
 * this module was bundled into a tool's CLI (scripts/bundle-cli.mjs), where
 * import.meta.url is the tool's; then the nearest node_modules/@ebpf/core
 * above the tool, as Node would resolve it (a plain walk: require.resolve()
 * costs ~10 ms of a CLI's start).
 */
function corePackageRoot(): string {
  const isCore = (root: string): boolean => {
    try {
      return JSON.parse(readFileSync(`${root}package.json`, 'utf8')).name === '@ebpf/core';
    } catch {
      return false;
    }
  };
  const own = fileURLToPath(new URL('../..', import.meta.url));
  if (isCore(own)) return own;
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const root = join(dir, 'node_modules', '@ebpf', 'core');
    if (isCore(`${root}/`)) return `${root}/`;
    if (dir === dirname(dir)) return own;
  }
}

let binding: Binding | undefined;

/** How each plain function's failure reads: '<this>: <errno description>'. */
const WORDING: { [K in keyof Binding]?: (...args: never[]) => string } = {
  mapLookup: () => 'map lookup',
  mapLookupAndDelete: () => 'map lookup-and-delete',
  mapUpdate: () => 'map update',
  mapDelete: () => 'map delete',
  mapNextKey: () => 'map next key',
  mapLookupBatch: () => 'map batch lookup',
  perfEventOpen: () => 'perf_event_open',
  mountTracefs: (path: string) => `mount tracefs on ${path}`,
};

function worded(raw: Binding): Binding {
  const b = { ...raw };
  for (const [name, what] of Object.entries(WORDING)) {
    const fn = (raw as unknown as Record<string, (...args: unknown[]) => unknown>)[name]!;
    const say = what as (...args: unknown[]) => string;
    (b as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
      try {
        return fn(...args);
      } catch (err) {
        throw wordNativeError(err, say(...args));
      }
    };
  }
  useStrerror(raw.strerror);
  return b;
}

/** Candidate paths, most specific first. */
function candidates(): string[] {
  const list: string[] = [];
  if (process.env.EBPF_CORE_ADDON) list.push(process.env.EBPF_CORE_ADDON);
  const packageRoot = corePackageRoot();
  list.push(`${packageRoot}build/Release/ebpf_core.node`);
  list.push(`${packageRoot}prebuilds/${process.platform}-${process.arch}/ebpf_core.node`);
  return list;
}

export function native(): Binding {
  if (binding) return binding;
  if (process.platform !== 'linux') {
    throw new NativeLoadError(`@ebpf/core runs on Linux only (this is ${process.platform})`);
  }
  const tried: string[] = [];
  for (const path of candidates()) {
    if (!existsSync(path)) {
      tried.push(`  ${path}: not found`);
      continue;
    }
    try {
      binding = worded(require(path) as Binding);
      return binding;
    } catch (err) {
      tried.push(`  ${path}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  throw new NativeLoadError(
    [
      'cannot load the @ebpf/core native addon. Tried:',
      ...tried,
      'Fix: install the build tools and libraries, then rebuild it:',
      '  apt-get install cmake g++ libbpf-dev libelf-dev zlib1g-dev   (Debian/Ubuntu)',
      `  cd ${corePackageRoot()} && npx cmake-js compile --out build`,
    ].join('\n'),
  );
}
