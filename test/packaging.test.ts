// What a stranger gets: every package packed with `npm pack`, installed from
// the tarballs into an empty folder with plain `npm install` (no workspace, no
// repo, no compiler on PATH), and the tools run from there against workloads.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = join(import.meta.dirname, '..');
// Every package in the repo (EBPF_PACK_ONLY=core,execsnoop narrows it while debugging).
const only = process.env.EBPF_PACK_ONLY?.split(',');
const packages = readdirSync(join(repo, 'packages')).filter((p) => !only || only.includes(p));

let dir: string;
let bin: string; // a PATH with node and npm but no compiler
const tarballs: Record<string, string> = {};

function toolEnv(): NodeJS.ProcessEnv {
  return { PATH: bin, HOME: dir, npm_config_cache: join(dir, '.npm-cache'), LANG: 'C.UTF-8' };
}

/** Starts a CLI from the install folder; resolves once its first stdout line (the header) is out. */
function startTool(cmd: string, args: string[]) {
  // Its own process group, so SIGINT reaches npx and the tool, as Ctrl-C in a terminal does.
  const child = spawn(cmd, args, { cwd: dir, env: toolEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d) => (err += d));
  const ready = new Promise<void>((resolve, reject) => {
    const check = () => (out.includes('\n') ? resolve() : undefined);
    child.stdout.on('data', check);
    child.on('exit', (code) => reject(new Error(`${cmd} exited ${code}: ${err}`)));
  });
  const stop = () =>
    new Promise<{ code: number | null; signal: string | null }>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      process.kill(-child.pid!, 'SIGINT');
    });
  return { child, ready, stop, out: () => out, err: () => err };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ebpf-pack-'));
  chmodSync(dir, 0o755); // the not-root run must reach the install
  const packDir = join(dir, 'tarballs');
  mkdirSync(packDir);
  for (const p of packages) {
    const out = execFileSync('npm', ['pack', '--silent', '--pack-destination', packDir], { cwd: join(repo, 'packages', p), encoding: 'utf8' });
    tarballs[p] = join(packDir, out.trim().split('\n').pop()!);
  }
  // PATH: node, npm and a shell only (npx resolves bins through node_modules/.bin).
  bin = join(dir, 'bin');
  mkdirSync(bin);
  for (const tool of ['node', 'npm', 'npx', 'sh', 'env', 'setpriv']) {
    const found = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
    if (found) symlinkSync(found, join(bin, tool));
  }
  const app = join(dir, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'stranger', private: true }));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts=false', ...Object.values(tarballs)], {
    cwd: app,
    env: toolEnv(),
    stdio: 'pipe',
  });
  dir = app;
}, 180_000);

afterAll(() => {
  if (dir) rmSync(join(dir, '..'), { recursive: true, force: true });
});

describe('packed packages', () => {
  it('carry what they need at run time and nothing of the repo', () => {
    for (const p of packages) {
      const list = execFileSync('tar', ['tzf', tarballs[p]!], { encoding: 'utf8' }).split('\n');
      const meta = JSON.parse(readFileSync(join(repo, 'packages', p, 'package.json'), 'utf8'));
      expect(meta.name).toBe(`@ebpf/${p}`);
      expect(meta.os).toEqual(['linux']);
      expect(meta.engines.node).toBeTruthy();
      expect(meta.exports['.'].types).toBeTruthy();
      expect(list).toContain('package/dist/index.js');
      expect(list).toContain('package/dist/index.d.ts');
      expect(list).toContain('package/README.md');
      expect(list.some((f) => f.startsWith('package/test/') || f.includes('node_modules'))).toBe(false);
      if (p === 'core') {
        expect(list).toContain('package/prebuilds/linux-x64/ebpf_core.node');
        expect(list).toContain('package/prebuilds/linux-arm64/ebpf_core.node');
        expect(list).toContain('package/CMakeLists.txt');
        // The build from source is opt-in: nothing of it is installed with the package.
        expect(meta.dependencies ?? {}).toEqual({});
      } else {
        expect(meta.dependencies['@ebpf/core']).toBe(JSON.parse(readFileSync(join(repo, 'packages/core/package.json'), 'utf8')).version);
        // A tool carries its lesson's object; the exporter runs other tools' and has none of its own.
        if (existsSync(join(repo, 'packages', p, 'src', `${p}.bpf.c`))) expect(list).toContain(`package/dist/${p}.bpf.o`);
        for (const target of Object.values(meta.bin as Record<string, string>)) expect(list).toContain(`package/${target.replace(/^\.\//, '')}`);
      }
    }
  });

  it('the prebuilt addons: the right architecture, only the C library dynamic, nothing newer than glibc 2.28, stripped', () => {
    for (const [arch, machine] of [['x64', 'x86-64'], ['arm64', 'ARM aarch64']] as const) {
      const file = join(dir, `node_modules/@ebpf/core/prebuilds/linux-${arch}/ebpf_core.node`);
      const desc = execFileSync('file', ['-b', file], { encoding: 'utf8' });
      expect(desc).toContain(`ELF 64-bit LSB shared object, ${machine}`);
      expect(desc).toContain('stripped');
      expect(desc).not.toContain('not stripped');
      const needed = [...execFileSync('readelf', ['-d', file], { encoding: 'utf8' }).matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
      expect(needed.length).toBeGreaterThan(0);
      for (const lib of needed) expect(lib).toMatch(/^(libc|libm|libdl|libpthread|librt)\.so\.\d+$|^ld-linux/);
      const versions = [...execFileSync('objdump', ['-T', file], { encoding: 'utf8' }).matchAll(/GLIBC_(\d+)\.(\d+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
      expect(versions.length).toBeGreaterThan(0);
      for (const [major, minor] of versions) expect(major * 1000 + minor!).toBeLessThanOrEqual(2028);
      // Only Node-API's entry points are exported as global functions, and no
      // libbpf, libelf or zlib symbol at all (none may clash with another copy).
      const dynsyms = execFileSync('objdump', ['-T', file], { encoding: 'utf8' }).split('\n').filter((l) => /\.text\s/.test(l));
      const globals = dynsyms.filter((l) => /^\S+\s+g\s+DF\s/.test(l)).map((l) => l.trim().split(/\s+/).pop());
      expect(globals.sort()).toEqual(['napi_register_module_v1', 'node_api_module_get_api_version_v1']);
      expect(dynsyms.filter((l) => /\s(bpf_|libbpf_|btf_|elf_|gelf_|elf32_|elf64_|inflate|deflate)\w*$/.test(l))).toEqual([]);
    }
  });

  it('install with no compiler: the prebuilt addon is what loads, with libbpf linked in', () => {
    expect(existsSync(join(dir, 'node_modules/@ebpf/core/build'))).toBe(false);
    const ldd = execFileSync('ldd', [join(dir, 'node_modules/@ebpf/core/prebuilds/linux-x64/ebpf_core.node')], { encoding: 'utf8' });
    expect(ldd).not.toMatch(/libbpf/);
    expect(ldd).not.toMatch(/not found/);
    expect(spawnSync('sh', ['-c', 'command -v clang || command -v cmake || command -v gcc'], { env: toolEnv() }).status).not.toBe(0);
  });

  it('npx execsnoop traces a workload', async () => {
    const t = startTool(join(bin, 'npx'), ['execsnoop', '-l', 'packaging-mark-77']);
    try {
      await t.ready;
      expect(t.out()).toMatch(/^PCOMM +PID +PPID +RET ARGS\n/);
      spawnSync('/bin/echo', ['packaging-mark-77', 'two words']);
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      // npm itself ends by the SIGINT it received (as in a terminal); the tool exits 0.
      const end = await t.stop();
      expect(end.code === 0 || end.signal === 'SIGINT').toBe(true);
    }
    expect(t.out()).toMatch(/^echo +\d+ +\d+ +0 \/bin\/echo packaging-mark-77 two words$/m);
    expect(t.err()).toBe('');
  });

  it('npx opensnoop traces a workload', async () => {
    const mark = join(dir, 'packaging-open-mark-78');
    writeFileSync(mark, 'x');
    const t = startTool(join(bin, 'npx'), ['opensnoop', '-n', 'cat']);
    try {
      await t.ready;
      expect(t.out()).toMatch(/^PID +COMM +FD ERR PATH\n/);
      spawnSync('/bin/cat', [mark]);
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      const end = await t.stop();
      expect(end.code === 0 || end.signal === 'SIGINT').toBe(true);
    }
    expect(t.out()).toMatch(new RegExp(`^\\d+ +cat +\\d+ +0 ${mark}$`, 'm'));
    expect(t.err()).toBe('');
  });

  it('the typed API works from the installed package', () => {
    const script = `
      import { execsnoop } from '@ebpf/execsnoop';
      import { spawnSync } from 'node:child_process';
      const t = execsnoop({ line: /packaging-api-mark/ });
      const seen = [];
      t.subscribe((evs) => seen.push(...evs));
      spawnSync('/bin/true', ['packaging-api-mark']);
      setTimeout(() => { t.close(); console.log(JSON.stringify(seen.map((e) => [e.filename, e.args]))); }, 300);
    `;
    writeFileSync(join(dir, 'api.mjs'), script);
    const out = execFileSync(join(bin, 'node'), ['api.mjs'], { cwd: dir, env: toolEnv(), encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual([['/bin/true', ['packaging-api-mark']]]);
  });

  it('without root: one line that says what is needed, non-zero exit', () => {
    const r = spawnSync(join(bin, 'setpriv'), ['--reuid=65534', '--regid=65534', '--clear-groups', join(bin, 'node'), 'node_modules/.bin/execsnoop'], {
      cwd: dir,
      env: toolEnv(),
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('execsnoop: need root (or CAP_BPF and CAP_PERFMON) to trace; run it with sudo\n');
  });

  it('on a kernel without BTF: says so', () => {
    // A private mount namespace where /sys/kernel/btf is an empty directory.
    const r = spawnSync('/usr/bin/unshare', ['-m', '/bin/sh', '-c', '/bin/mount -t tmpfs none /sys/kernel/btf && exec "$0" "$@"', join(bin, 'node'), 'node_modules/.bin/execsnoop'], {
      cwd: dir,
      env: toolEnv(),
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^execsnoop: this kernel has no BTF \(\/sys\/kernel\/btf\/vmlinux is missing\).*\n$/);
  });
});
