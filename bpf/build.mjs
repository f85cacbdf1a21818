#!/usr/bin/env node
// Builds .bpf.c sources into CO-RE BPF objects, and generates a TypeScript module
// with the types and decoders of what each object exports (see EBPF_EXPORT in
// include/ebpf/common.h), the names of its global (config) variables, and the
// integer constants (#define, enum) the .bpf.c itself defines (gen-consts.mjs).
//
//   node bpf/build.mjs --out DIR [--gen DIR] FILE.bpf.c...
//
// FILE.bpf.c → DIR/FILE.bpf.o and GEN/FILE.gen.ts. Needs clang, llvm-strip and
// bpftool (Debian: clang llvm bpftool). vmlinux.h is generated once from this
// machine's kernel BTF; CO-RE relocations make the objects portable to others.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync, readFileSync, statSync, renameSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateTypes } from './gen-types.mjs';
import { findConstants, cLiteral } from './gen-consts.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const includeDir = join(here, 'include');

function usage(msg) {
  console.error(`build.mjs: ${msg}\nusage: node bpf/build.mjs --out DIR [--gen DIR] FILE.bpf.c...`);
  process.exit(2);
}

function run(cmd, args, opts = {}) {
  try {
    return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 30, ...opts });
  } catch (err) {
    if (err.code === 'ENOENT') {
      console.error(`build.mjs: ${cmd} not found; install it (Debian: apt-get install clang llvm bpftool)`);
    } else {
      process.stderr.write(err.stderr ?? '');
      console.error(`build.mjs: ${cmd} ${args.join(' ')} failed`);
    }
    process.exit(1);
  }
}

function ensureVmlinux() {
  const target = join(includeDir, 'vmlinux.h');
  if (existsSync(target) && statSync(target).size > 0) return;
  const btf = '/sys/kernel/btf/vmlinux';
  if (!existsSync(btf)) {
    console.error('build.mjs: no kernel BTF at /sys/kernel/btf/vmlinux; cannot generate vmlinux.h');
    process.exit(1);
  }
  const header = run('bpftool', ['btf', 'dump', 'file', btf, 'format', 'c']);
  // turbo builds packages in parallel: each writes its own temp file and the
  // atomic rename makes whichever finishes last win with identical content.
  const tmp = `${target}.${process.pid}.tmp`;
  writeFileSync(tmp, header);
  renameSync(tmp, target);
}

// The integer constants the source defines itself, as the preprocessor leaves
// them (same flags as the build, so the same #if branches), each value then
// confirmed by the compiler: a _Static_assert per constant after the file.
function sourceConstants(src, cflags) {
  const pp = run('clang', [...cflags, '-E', '-dD', src]).toString();
  const constants = findConstants(pp, src);
  if (constants.length === 0) return constants;
  const check = [
    `#include ${JSON.stringify(resolve(src))}`,
    ...constants.map((c) => `_Static_assert((${c.name}) == ${cLiteral(c.value)}, ${JSON.stringify(c.name)});`),
    '',
  ].join('\n');
  run('clang', [...cflags, '-fsyntax-only', '-x', 'c', '-'], { input: check, stdio: ['pipe', 'pipe', 'pipe'] });
  return constants;
}

const args = process.argv.slice(2);
let outDir;
let genDir;
const sources = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--out') outDir = args[++i];
  else if (args[i] === '--gen') genDir = args[++i];
  else if (args[i].startsWith('-')) usage(`unknown option ${args[i]}`);
  else sources.push(args[i]);
}
if (!outDir || sources.length === 0) usage('need --out and at least one source');

ensureVmlinux();
mkdirSync(outDir, { recursive: true });
for (const src of sources) {
  if (!src.endsWith('.bpf.c')) usage(`${src}: expected a .bpf.c file`);
  const name = basename(src, '.bpf.c');
  const obj = join(outDir, `${name}.bpf.o`);
  const cflags = [
    '-g', '-O2', '-target', 'bpf', '-D__TARGET_ARCH_x86',
    '-Wall', '-Werror', '-Wno-unused-function', '-Wno-unused-variable',
    '-I', includeDir, '-I', dirname(resolve(src)),
    // <asm/...> for headers such as bpf/usdt.bpf.h (Debian's multiarch path)
    '-idirafter', '/usr/include/x86_64-linux-gnu',
  ];
  run('clang', [...cflags, '-c', src, '-o', obj]);
  // Drop DWARF (it is large); keep .BTF and .BTF.ext, which CO-RE needs.
  run('llvm-strip', ['-g', obj]);
  if (genDir) {
    const btf = JSON.parse(run('bpftool', ['-j', 'btf', 'dump', 'file', obj]).toString());
    const constants = sourceConstants(src, cflags);
    const ts = generateTypes(btf, { name, source: basename(src), constants });
    const target = join(genDir, `${name}.gen.ts`);
    mkdirSync(genDir, { recursive: true });
    if (!existsSync(target) || readFileSync(target, 'utf8') !== ts) writeFileSync(target, ts);
  }
}
