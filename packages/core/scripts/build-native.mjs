#!/usr/bin/env node
// Builds the native addon (build/Release/ebpf_core.node), and the prebuilt
// binary shipped in the npm package (prebuilds/linux-x64/ebpf_core.node).
//
// libbpf is linked statically so the shipped addon runs whatever libbpf the
// user's distribution has, or none. Debian's libbpf.a is not position-
// independent and cannot go into a shared object, so libbpf is built here
// from Debian's own source package (same version as libbpf-dev: 1.1.2), once,
// into .cache/. When that is not possible (not root, no network), the addon
// links the system's shared libbpf instead and no prebuilt binary is made.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const cache = join(root, '.cache', 'libbpf');
const staticLib = join(cache, 'obj', 'libbpf.a');
const quiet = { stdio: ['ignore', 'pipe', 'pipe'] };

function log(msg) {
  process.stderr.write(`build-native: ${msg}\n`);
}

/** Debian's libbpf source, built with -fPIC. Returns the .a path or undefined. */
function staticLibbpf() {
  if (process.env.EBPF_LIBBPF_STATIC) return process.env.EBPF_LIBBPF_STATIC;
  if (existsSync(staticLib)) return staticLib;
  if (process.getuid?.() !== 0) return undefined;
  try {
    mkdirSync(join(cache, 'lists', 'partial'), { recursive: true });
    const sources = join(cache, 'sources.list');
    // A private deb-src list: the system's apt configuration is left alone.
    writeFileSync(sources, 'deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main\n');
    const apt = ['-o', `Dir::Etc::SourceList=${sources}`, '-o', 'Dir::Etc::SourceParts=/nonexistent', '-o', `Dir::State::Lists=${join(cache, 'lists')}`];
    log("fetching Debian's libbpf source package");
    execFileSync('apt-get', [...apt, 'update', '-qq'], quiet);
    execFileSync('apt-get', [...apt, 'source', '--download-only', 'libbpf'], { ...quiet, cwd: cache });
    const tarball = readdirSync(cache).find((f) => /^libbpf_.*\.orig\.tar\.gz$/.test(f));
    if (!tarball) return undefined;
    execFileSync('tar', ['xzf', tarball], { ...quiet, cwd: cache });
    const src = readdirSync(cache).find((f) => /^libbpf-\d/.test(f));
    mkdirSync(join(cache, 'obj'), { recursive: true });
    log('building libbpf.a (position-independent)');
    execFileSync('make', ['-s', '-C', join(cache, src, 'src'), 'BUILD_STATIC_ONLY=1', `OBJDIR=${join(cache, 'obj')}`,
      'EXTRA_CFLAGS=-fPIC -O2', '-j2'], quiet);
    return existsSync(staticLib) ? staticLib : undefined;
  } catch (err) {
    log(`no static libbpf (${String(err.message).split('\n')[0]}); linking the system's shared libbpf`);
    return undefined;
  }
}

const lib = staticLibbpf();
const env = { ...process.env };
// Build against the local Node headers when there are some (npm passes its
// nodedir setting when it runs this script; direct runs get the same).
if (!env.npm_config_nodedir && existsSync(`${dirname(dirname(process.execPath))}/include/node/node_api.h`)) {
  env.npm_config_nodedir = dirname(dirname(process.execPath));
}
if (lib) env.EBPF_LIBBPF_STATIC = lib;
const cmakeJs = join(dirname(fileURLToPath(import.meta.resolve('cmake-js/package.json'))), 'bin', 'cmake-js');
execFileSync(process.execPath, [cmakeJs, 'compile', '--out', 'build'], { cwd: root, env, stdio: 'inherit' });
if (lib) {
  const dir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(root, 'build', 'Release', 'ebpf_core.node'), join(dir, 'ebpf_core.node'));
}
