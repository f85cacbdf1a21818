// Containers for the container-filter tests (--cgroup, --cgroupmap,
// --mntnsmap): a cgroup v2 child, a bpffs with pinned hash maps (made with
// bpftool, as a user or an orchestrator would), and commands run inside the
// cgroup or in a new mount namespace. Everything made here goes away in
// cleanup(). (Not a test file.)
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, uniq, type TempDir } from './tmp.js';
import { until } from './wait.js';

/** Where cgroup v2 is mounted: /sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid system. */
export function cgroup2Root(): string {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    const dash = f.indexOf('-');
    if (dash > 0 && f[dash + 1] === 'cgroup2' && f[3] === '/') return f[4]!;
  }
  throw new Error('no cgroup v2 hierarchy mounted');
}

/** The cgroup v2 id of a process (the `cgroupId` of its events): the inode of its directory, from /proc/PID/cgroup's "0::" line. */
export function cgroupIdOf(pid: number | 'self'): bigint {
  const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::'));
  if (!line) throw new Error(`/proc/${pid}/cgroup has no cgroup v2 line`);
  return statSync(join(cgroup2Root(), line.slice(3)), { bigint: true }).ino;
}

/** A u64 as bpftool's hex key bytes (little-endian). */
const hexKey = (v: bigint): string[] => [...Buffer.from(new BigUint64Array([v]).buffer)].map((b) => b.toString(16).padStart(2, '0'));

/** The mount namespace inode of a process (what --mntnsmap keys by). */
export const mntnsOf = (pid: number | 'self'): bigint => statSync(`/proc/${pid}/ns/mnt`, { bigint: true }).ino;

export interface Containers {
  /** A new cgroup v2 directory. */
  cgroup: string;
  /** Its id (the directory's inode number). */
  cgroupId: bigint;
  /** A new child of `cgroup` (--cgroup PATH covers it too). */
  child: string;
  /** Pins a new BPF hash map (u64 keys) holding `keys`; returns its path. */
  pinMap(keys: bigint[]): string;
  /** Adds a key to a pinned map while tools run. */
  addKey(path: string, key: bigint): void;
  /** argv running `cmd args` inside cgroup `dir` (default `cgroup`). */
  inCgroup(cmd: string, args: string[], dir?: string): [string, string[]];
  /** The same as a prefix: `[...wrap, cmd, ...args]` runs cmd inside cgroup `dir`. */
  cgroupWrap(dir?: string): string[];
  /**
   * Starts `cmd args` in a new mount namespace, held before it runs until
   * go() (so its namespace can be put into a map first). mntns: its inode.
   */
  inMountNs(cmd: string, args: string[]): Promise<MountNsRun>;
  cleanup(): Promise<void>;
}

export interface MountNsRun {
  proc: ChildProcess;
  mntns: bigint;
  /** Lets it run; resolves with its exit code and what it printed. */
  go(): Promise<{ code: number | null; stdout: string }>;
}

export function containers(): Containers {
  const root = cgroup2Root();
  const cgroup = join(root, uniq('ebpf-test'));
  mkdirSync(cgroup);
  const child = join(cgroup, 'child');
  mkdirSync(child);
  const bpffs: TempDir = tempDir('ebpf-test-bpffs-');
  execFileSync('mount', ['-t', 'bpf', 'bpf', bpffs.dir]);
  const procs: ChildProcess[] = [];
  const enter = `echo $$ > "$0/cgroup.procs" && exec "$@"`;
  return {
    cgroup,
    cgroupId: statSync(cgroup, { bigint: true }).ino,
    child,
    pinMap(keys) {
      const path = join(bpffs.dir, uniq('map'));
      execFileSync('bpftool', ['map', 'create', path, 'type', 'hash', 'key', '8', 'value', '8', 'entries', '64', 'name', 'filter']);
      for (const k of keys) this.addKey(path, k);
      return path;
    },
    addKey(path, key) {
      execFileSync('bpftool', ['map', 'update', 'pinned', path, 'key', 'hex', ...hexKey(key), 'value', 'hex', ...hexKey(1n)]);
    },
    inCgroup: (cmd, args, dir = cgroup) => ['sh', ['-c', enter, dir, cmd, ...args]],
    cgroupWrap: (dir = cgroup) => ['sh', '-c', enter, dir],
    async inMountNs(cmd, args) {
      // unshare(1) enters the new namespace and execs sh, which waits for a line.
      const proc = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', 'read go && exec "$@"', 'sh', cmd, ...args], {
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      let stdout = '';
      proc.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      procs.push(proc);
      const mine = mntnsOf('self');
      let mntns = mine;
      await until(() => {
        try {
          mntns = mntnsOf(proc.pid!);
        } catch {
          /* not started yet */
        }
        return mntns !== mine;
      }, 'the workload to enter its mount namespace');
      const exited = new Promise<{ code: number | null; stdout: string }>((resolve) => proc.on('close', (code) => resolve({ code, stdout })));
      return {
        proc,
        mntns,
        go: () => {
          proc.stdin!.end('go\n');
          return exited;
        },
      };
    },
    async cleanup() {
      for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
      try {
        execFileSync('umount', [bpffs.dir]); // the pinned maps go with the mount
      } catch {
        /* not mounted */
      }
      bpffs.cleanup();
      // A cgroup can be removed once its processes are gone (reaped): move
      // any left to the root, then wait until rmdir succeeds.
      for (const dir of [child, cgroup]) {
        await until(() => {
          try {
            for (const pid of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) writeFileSync(join(root, 'cgroup.procs'), pid);
            rmdirSync(dir);
            return true;
          } catch (err) {
            return (err as NodeJS.ErrnoException).code === 'ENOENT';
          }
        }, `cgroup ${dir} to be removable`);
      }
    },
  };
}
