// The smoke set: every tool's CLI, as a user runs it, against a workload
// started here, on whatever kernel this runs on (the host, or a guest of
// scripts/kernels/boot.sh). One line per tool: "ok", "FAIL" with the reason,
// or "skip" with why; the exit status is the number of failures.
//
//   node test/kernels/smoke.mjs [TOOL...]
//
// No timing assumptions: a workload repeats until the tool has shown it (or
// a generous deadline passes: guests under emulation run ~12x slower).
// Artifacts that need a compiler (a C leaker, a Java class) are built by
// prepare() on the host, before a guest boots, into .cache/kernel-smoke.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const ART = join(REPO, '.cache', 'kernel-smoke');
const DEADLINE_MS = Number(process.env.SMOKE_DEADLINE_MS ?? 240_000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const cli = (tool, bin = 'cli') => join(REPO, 'packages', tool, 'dist', `${bin}.js`);

/** Builds what the guest cannot build quickly (run on the host). */
export function prepare() {
  mkdirSync(ART, { recursive: true });
  writeFileSync(join(ART, 'leaker.c'), `#include <stdlib.h>
#include <unistd.h>
__attribute__((noinline)) void *smoke_leak(size_t n) { return malloc(n); }
void *volatile keep;
int main(void) { for (int i = 0; i < 200; i++) { keep = smoke_leak(4096); usleep(20000); } return 0; }
`);
  execFileSync('gcc', ['-O1', '-g', '-fno-omit-frame-pointer', '-o', join(ART, 'leaker'), join(ART, 'leaker.c')]);
  execFileSync('gcc', ['-O1', '-o', join(ART, 'synflood'), join(REPO, 'packages/tcpretrans/test/c/synflood.c')]);
  const javac = spawnSync('javac', ['-d', ART, join(REPO, 'packages/javagc/test/fixtures/GcLoop.java')], { stdio: 'ignore' });
  if (javac.status !== 0) rmSync(join(ART, 'GcLoop.class'), { force: true });
}

/**
 * Runs a CLI, feeds `workload()` every `everyMs` until `seen(stdout)` or the
 * deadline, then stops it with SIGINT (unless it ends by itself) and checks
 * that it exited 0. Returns a failure reason, or undefined.
 */
async function watch({ argv, workload, seen, everyMs = 300, endsItself = false, env }) {
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d) => (err += d));
  const exited = new Promise((r) => child.on('close', (code, signal) => r({ code, signal })));
  let done = false;
  exited.then(() => (done = true));
  const until = Date.now() + DEADLINE_MS;
  while (!done && !seen(out) && Date.now() < until) {
    if (workload) await workload();
    await sleep(everyMs);
  }
  const ok = seen(out);
  if (!done && !endsItself) child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), endsItself && ok ? DEADLINE_MS : 30_000);
  const { code, signal } = await exited;
  clearTimeout(timer);
  const tail = (s, n = 3) => s.trim().split('\n').slice(-n).join(' | ');
  // stderr's head: a crash's first lines say what it was.
  const head = (s) => s.trim().split('\n').slice(0, 6).join(' | ');
  if (!ok) return `not seen in ${Math.round(DEADLINE_MS / 1000)} s; stdout: ${tail(out) || '(none)'}; stderr: ${head(err) || '(none)'}`;
  if (code !== 0) return `exit ${code ?? signal}; stderr: ${tail(err)}`;
  return undefined;
}

const run = (cmd, args, opts = {}) => new Promise((r) => spawn(cmd, args, { stdio: 'ignore', ...opts }).on('close', r));

/** A loopback TCP server; connect() makes one short session with it. */
async function tcpServer() {
  const server = createServer((s) => s.end('x'));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  const session = () =>
    new Promise((r) => {
      const c = connect(port, '127.0.0.1');
      c.on('data', () => {});
      c.on('close', r);
      c.on('error', r);
      c.end('y');
    });
  return { port, session, close: () => server.close() };
}

/**
 * Runs `fn(disk)` with a disk nobody else uses: a guest's scratch disk
 * (boot.sh names it), or here a loop device over a temporary file. Never a
 * real disk.
 */
async function withScratchDisk(fn) {
  let disk = process.env.EBPF_SCRATCH_DISK;
  let loop;
  let dir;
  try {
    if (!disk) {
      // /var/tmp, not a tmpfs /tmp: a loop device over tmpfs has no O_DIRECT.
      dir = mkdtempSync(join(existsSync('/var/tmp') ? '/var/tmp' : tmpdir(), 'smoke-bio-'));
      writeFileSync(join(dir, 'disk.img'), Buffer.alloc(16 << 20));
      const r = spawnSync('losetup', ['-f', '--show', join(dir, 'disk.img')], { encoding: 'utf8' });
      if (r.status !== 0) return { skip: `no scratch disk and no loop device (${r.stderr.trim()})` };
      disk = loop = r.stdout.trim();
    }
    return await fn(disk);
  } finally {
    if (loop) spawnSync('losetup', ['-d', loop]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

const directWrites = (disk) => () => run('dd', ['if=/dev/zero', `of=${disk}`, 'bs=4k', 'count=64', 'oflag=direct'], { stdio: 'ignore' });

/**
 * A memory cgroup of 32 MiB for an OOM kill that costs the machine nothing:
 * cgroup v2's memory controller where there is one (the guests), else v1's
 * memory hierarchy (this host has no v2 memory controller).
 */
function memoryCgroup() {
  const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' '));
  const v2 = mounts.find((m) => m[2] === 'cgroup2');
  const name = `ebpf-smoke-oom-${process.pid}`;
  let dir;
  if (v2 && readFileSync(join(v2[1], 'cgroup.controllers'), 'utf8').split(/\s+/).includes('memory')) {
    writeFileSync(join(v2[1], 'cgroup.subtree_control'), '+memory');
    dir = join(v2[1], name);
    mkdirSync(dir);
    writeFileSync(join(dir, 'memory.max'), `${32 << 20}`);
    if (existsSync(join(dir, 'memory.swap.max'))) writeFileSync(join(dir, 'memory.swap.max'), '0');
  } else {
    const v1 = mounts.find((m) => m[2] === 'cgroup' && m[3].split(',').includes('memory'));
    if (!v1) return undefined;
    dir = join(v1[1], name);
    mkdirSync(dir);
    writeFileSync(join(dir, 'memory.limit_in_bytes'), `${32 << 20}`);
  }
  return {
    // A shell that moves itself in, then becomes a process that touches 256 MiB.
    hog: () => run('sh', ['-c', `echo $$ > ${dir}/cgroup.procs && exec ${process.execPath} -e "Buffer.alloc(256 << 20, 1)"`]),
    remove: () => rmdirSync(dir),
  };
}

/** Each tool's smoke test: resolves to a failure reason, a { skip } or undefined. */
export const smokes = {
  async execsnoop() {
    const token = `smoke${process.pid}x${Date.now()}`;
    return watch({ argv: [cli('execsnoop')], workload: () => run('/bin/echo', [token]), seen: (o) => o.includes(token) });
  },

  async opensnoop() {
    const dir = mkdtempSync(join(tmpdir(), 'smoke-open-'));
    const file = join(dir, 'opened-by-smoke');
    writeFileSync(file, 'x');
    try {
      return await watch({ argv: [cli('opensnoop'), '-n', 'cat'], workload: () => run('cat', [file]), seen: (o) => o.includes(file) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },

  async exitsnoop() {
    const dir = mkdtempSync(join(tmpdir(), 'smoke-exit-'));
    const prog = join(dir, 'smokefalse');
    copyFileSync('/bin/false', prog);
    try {
      return await watch({ argv: [cli('exitsnoop'), '-x'], workload: () => run(prog, []), seen: (o) => /^smokefalse\s.*\s1\s*$/m.test(o) || /^smokefalse\s/m.test(o) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },

  async sigsnoop() {
    const target = spawn('sleep', ['3600'], { stdio: 'ignore' });
    try {
      return await watch({
        argv: [cli('sigsnoop'), '-T', String(target.pid)],
        workload: async () => process.kill(target.pid, 'SIGWINCH'),
        seen: (o) => new RegExp(`\\s28\\s+${target.pid}\\s`).test(o),
      });
    } finally {
      target.kill('SIGKILL');
    }
  },

  async killsnoop() {
    const target = spawn('sleep', ['3600'], { stdio: 'ignore' });
    try {
      return await watch({
        argv: [cli('sigsnoop', 'killsnoop')],
        workload: () => run('kill', ['-WINCH', String(target.pid)]),
        seen: (o) => new RegExp(`\\s28\\s+${target.pid}\\s`).test(o),
      });
    } finally {
      target.kill('SIGKILL');
    }
  },

  async biolatency() {
    return withScratchDisk((disk) =>
      watch({
        argv: [cli('biolatency'), '-D', '2', '1'],
        workload: directWrites(disk),
        seen: (o) => new RegExp(`disk = ${disk.split('/').pop()}\\b[\\s\\S]*?\\|\\*+`).test(o),
        endsItself: true,
      }),
    );
  },

  async biosnoop() {
    return withScratchDisk((disk) => {
      const name = disk.split('/').pop();
      return watch({ argv: [cli('biosnoop'), '-d', name], workload: directWrites(disk), seen: (o) => new RegExp(`\\s${name}\\s+W\\s`).test(o) });
    });
  },

  async tcplife() {
    const server = await tcpServer();
    try {
      return await watch({ argv: [cli('tcplife'), '-L', String(server.port)], workload: server.session, seen: (o) => new RegExp(`\\s${server.port}\\s`).test(o) });
    } finally {
      server.close();
    }
  },

  async tcpstates() {
    const server = await tcpServer();
    try {
      return await watch({ argv: [cli('tcpstates'), '-L', String(server.port)], workload: server.session, seen: (o) => /ESTABLISHED/.test(o) });
    } finally {
      server.close();
    }
  },

  async tcpconnlat() {
    const server = await tcpServer();
    try {
      return await watch({ argv: [cli('tcpconnlat')], workload: server.session, seen: (o) => new RegExp(`\\s${server.port}\\s+\\d+\\.\\d+`).test(o) });
    } finally {
      server.close();
    }
  },

  async tcpretrans() {
    // A SYN dropped by a full accept queue goes again after 1 s (synflood.c).
    const flood = spawn(join(ART, 'synflood'), ['4'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      let out = '';
      flood.stdout.setEncoding('utf8').on('data', (d) => (out += d));
      const until = Date.now() + DEADLINE_MS;
      while (!/client \d+/.test(out) && Date.now() < until) await sleep(100);
      const port = out.match(/listening (\d+)/)?.[1];
      if (!port) return 'synflood did not start';
      return await watch({ argv: [cli('tcpretrans')], seen: (o) => o.includes(`127.0.0.1:${port}`) });
    } finally {
      flood.kill('SIGKILL');
    }
  },

  async runqlat() {
    return watch({ argv: [cli('runqlat'), '1', '2'], workload: () => run('sleep', ['0.01']), seen: (o) => /usecs[\s\S]*\|\*+/.test(o), endsItself: true });
  },

  async hardirqs() {
    // Device interrupts: the disk and network (virtio in a guest) are busy enough.
    return watch({ argv: [cli('hardirqs'), '1', '2'], workload: () => run('ls', ['-R', '/usr/share/doc'], { stdio: 'ignore' }), seen: (o) => /HARDIRQ\s+TOTAL_usecs\n\S+\s+\d+/.test(o), endsItself: true });
  },

  async softirqs() {
    return watch({ argv: [cli('softirqs'), '1', '2'], workload: () => run('sleep', ['0.01']), seen: (o) => /SOFTIRQ\s+TOTAL_usecs\n\S+\s+\d+/.test(o), endsItself: true });
  },

  async syscount() {
    return watch({ argv: [cli('syscount'), '-d', '2'], workload: () => run('ls', ['/']), seen: (o) => /SYSCALL\s+COUNT\n\S+\s+\d+/.test(o), endsItself: true });
  },

  async profile() {
    // Folded stacks for three seconds while a shell spins.
    const spin = () => run('sh', ['-c', 'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done']);
    return watch({ argv: [cli('profile'), '-f', '3'], workload: spin, everyMs: 50, seen: (o) => /^sh;.* \d+$/m.test(o), endsItself: true });
  },

  async oomkill() {
    const cg = memoryCgroup();
    if (!cg) return { skip: 'no memory cgroup controller to confine an OOM kill to' };
    try {
      return await watch({ argv: [cli('oomkill')], workload: cg.hog, everyMs: 1000, seen: (o) => /OOM kill of PID \d+/.test(o) });
    } finally {
      cg.remove();
    }
  },

  async offcputime() {
    // Folded stacks for two seconds while `sleep` children block.
    return watch({ argv: [cli('offcputime'), '-f', '2'], workload: () => run('sleep', ['0.05']), seen: (o) => /^sleep;.*\d+$/m.test(o), endsItself: true });
  },

  async memleak() {
    const leaker = join(ART, 'leaker');
    if (!existsSync(leaker)) return 'no leaker: run prepare() first (test/kernels/run.mjs does)';
    // User mode: the leak's stack names the leaking function.
    const user = await watch({ argv: [cli('memleak'), '-c', leaker, '1'], seen: (o) => o.includes('smoke_leak') });
    if (user) return `-c: ${user}`;
    // Kernel mode: the kmem tracepoints; the workload allocates in the kernel.
    const kernel = await watch({ argv: [cli('memleak'), '1', '3'], workload: () => run('ls', ['-R', '/etc']), seen: (o) => /outstanding allocations/.test(o), endsItself: true });
    return kernel && `kernel mode: ${kernel}`;
  },

  async javagc() {
    if (!existsSync(join(ART, 'GcLoop.class'))) return { skip: 'no JDK on the host to compile the workload' };
    const jvm = spawn('java', ['-XX:-UsePerfData', '-Xms16m', '-Xmx64m', '-XX:+UseG1GC', '-XX:TieredStopAtLevel=1', '-cp', ART, 'GcLoop', '2'], {
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    let ready = false;
    jvm.stdout.setEncoding('utf8').on('data', (d) => (ready ||= d.includes('ready')));
    try {
      const until = Date.now() + DEADLINE_MS;
      while (!ready && Date.now() < until) await sleep(200);
      if (!ready) return 'the JVM did not start';
      return await watch({ argv: [cli('javagc'), '-p', String(jvm.pid)], workload: async () => jvm.stdin.write('gc\n'), everyMs: 1000, seen: (o) => o.split('\n').length > 2 });
    } finally {
      jvm.kill('SIGKILL');
    }
  },
};

async function main() {
  const only = process.argv.slice(2);
  if (only.includes('--prepare')) return prepare();
  let failures = 0;
  console.log(`smoke on ${execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim()}`);
  for (const [name, smoke] of Object.entries(smokes)) {
    if (only.length && !only.includes(name)) continue;
    if (!existsSync(cli(name === 'killsnoop' ? 'sigsnoop' : name, name === 'killsnoop' ? name : 'cli'))) {
      console.log(`FAIL ${name}: not built`);
      failures++;
      continue;
    }
    const t0 = Date.now();
    let result;
    try {
      result = await smoke();
    } catch (err) {
      result = `threw: ${err.message}`;
    }
    const secs = `${((Date.now() - t0) / 1000).toFixed(1)} s`;
    if (result?.skip) console.log(`skip ${name}: ${result.skip}`);
    else if (result) {
      console.log(`FAIL ${name} (${secs}): ${result}`);
      failures++;
    } else console.log(`ok ${name} (${secs})`);
  }
  process.exitCode = Math.min(failures, 100);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
