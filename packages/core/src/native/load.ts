// Finds and loads the native addon, once, on first use. When nothing loads,
// the error says what was tried and how to fix it.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Binding } from './binding.js';
import { NativeLoadError } from '../errors.js';

const require = createRequire(import.meta.url);
const packageRoot = fileURLToPath(new URL('../..', import.meta.url));

let binding: Binding | undefined;

/** Candidate paths, most specific first. */
function candidates(): string[] {
  const list: string[] = [];
  if (process.env.EBPF_CORE_ADDON) list.push(process.env.EBPF_CORE_ADDON);
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
      binding = require(path) as Binding;
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
      `  cd ${packageRoot} && npx cmake-js compile --out build`,
    ].join('\n'),
  );
}
