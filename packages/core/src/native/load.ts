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
import { explainDlopenError, fixFor, hostFacts, inspectElf, type Diagnosis, type HostFacts } from './diagnose.js';
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
  objGet: (path: string) => path,
  mapInfo: () => 'map info',
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

/**
 * Candidate paths, most specific first: EBPF_CORE_ADDON alone when it is
 * set; else a build from source (build/Release), then the prebuilt for this
 * architecture, then its musl build where a musl loader is installed.
 */
function candidates(): string[] {
  if (process.env.EBPF_CORE_ADDON) return [process.env.EBPF_CORE_ADDON];
  const root = corePackageRoot();
  const list = [`${root}build/Release/ebpf_core.node`, `${root}prebuilds/linux-${process.arch}/ebpf_core.node`];
  const muslArch = process.arch === 'x64' ? 'x86_64' : process.arch === 'arm64' ? 'aarch64' : process.arch;
  if (existsSync(`/lib/ld-musl-${muslArch}.so.1`)) list.push(`${root}prebuilds/linux-${process.arch}-musl/ebpf_core.node`);
  return list;
}

export function native(): Binding {
  if (binding) return binding;
  if (process.platform !== 'linux') {
    throw new NativeLoadError(`@ebpf/core runs on Linux only (this is ${process.platform})`, 'unsupported-os');
  }
  // Facts are read only when needed: process.report costs a few ms.
  let known: HostFacts | undefined;
  const facts = () => (known ??= hostFacts());
  const tried: string[] = [];
  let first: Diagnosis | undefined;
  for (const path of candidates()) {
    let d: Diagnosis | undefined;
    if (!existsSync(path)) d = { reason: 'not-found', detail: 'not found' };
    else {
      d = inspectElf(path);
      if (!d) {
        try {
          binding = worded(require(path) as Binding);
          return binding;
        } catch (err) {
          d = explainDlopenError((err as Error).message.split('\n')[0]!, path, facts());
        }
      }
    }
    tried.push(`  ${path}: ${d.detail}`);
    // A missing build from source is normal; a problem with a file that is there says more.
    if (!first || (first.reason === 'not-found' && d.reason !== 'not-found')) first = d;
  }
  throw new NativeLoadError(
    ['cannot load the @ebpf/core native addon. Tried:', ...tried, ...fixFor(first!, corePackageRoot(), facts())].join('\n'),
    first!.reason,
  );
}
