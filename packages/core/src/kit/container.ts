// Container filters, declared once for every tool: --cgroup PATH (a cgroup
// v2 directory: its tasks and those below it), and BCC's --cgroupmap MAP and
// --mntnsmap MAP (pinned hash maps keyed by u64 cgroup id / mount namespace
// inode; an event passes when its key is in the map). A tool spreads
// `containerOptions` into its options and calls ebpf_container_allowed()
// (bpf/include/ebpf/container.h) in its .bpf.c; loadProgram() sets the knobs
// and hands the pinned maps to the object before load.
import { readdirSync, readFileSync, realpathSync, statSync, statfsSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { ObjectSpec } from '../bpf/object.js';
import { UsageError } from '../errors.js';
import { native } from '../native/load.js';
import { nativeFailure } from '../native/errno.js';
import { option, type ValueType } from './options.js';

const CGROUP2_SUPER_MAGIC = 0x63677270;
const BPF_FS_MAGIC = 0xcafe4a11;

/** The API's container options (what `containerOptions` declares). */
export interface ContainerOptions {
  /** Only tasks in this cgroup v2 directory or below it, in the kernel. */
  cgroup?: string;
  /** Only tasks whose cgroup id is a key of this pinned BPF hash map (BCC's --cgroupmap). */
  cgroupmap?: string;
  /** Only tasks whose mount namespace inode is a key of this pinned BPF hash map (BCC's --mntnsmap). */
  mntnsmap?: string;
}

/** A cgroup v2 directory: its id (the directory's inode number) and depth below the v2 root. */
export interface CgroupTarget {
  id: bigint;
  level: number;
}

/** Where cgroup v2 is mounted ('/sys/fs/cgroup', or '/sys/fs/cgroup/unified' on a hybrid system), for messages. */
function cgroup2Mounts(): Array<{ root: string; point: string }> {
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
  const out: Array<{ root: string; point: string }> = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    const dash = f.indexOf('-');
    if (dash > 0 && f[dash + 1] === 'cgroup2') out.push({ root: unescape(f[3]!), point: unescape(f[4]!) });
  }
  return out;
}

/** Resolves --cgroup PATH, or throws one UsageError line saying what is wrong with it. */
export function resolveCgroup(path: string, what = '--cgroup'): CgroupTarget {
  let real: string;
  let st;
  try {
    real = realpathSync(path);
    st = statSync(real, { bigint: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`${what} ${path}: ${code === 'ENOENT' ? 'no such path' : code === 'EACCES' ? 'permission denied' : (err as Error).message}`);
  }
  const mounts = cgroup2Mounts();
  const where = mounts.length ? ` (cgroup v2 is mounted at ${mounts.map((m) => m.point).join(', ')})` : ' (no cgroup v2 hierarchy is mounted: mount -t cgroup2 none DIR)';
  if (!st.isDirectory() || statfsSync(real).type !== CGROUP2_SUPER_MAGIC) throw new UsageError(`${what} ${path}: not a cgroup v2 directory${where}`);
  // The deepest cgroup2 mount holding the path; its root (a bind mount of a
  // sub-cgroup has one below '/') plus the rest gives the absolute depth.
  const mount = mounts
    .filter((m) => real === m.point || real.startsWith(m.point.endsWith('/') ? m.point : `${m.point}/`))
    .sort((a, b) => b.point.length - a.point.length)[0];
  if (!mount) throw new UsageError(`${what} ${path}: not a cgroup v2 directory${where}`);
  const rel = `${mount.root}/${relative(mount.point, real)}`.split('/').filter(Boolean);
  return { id: st.ino, level: rel.length };
}

const cgroupPath: ValueType<string> = {
  parse: (t, flag) => (resolveCgroup(t, flag), t),
  check: (v, key) => {
    if (typeof v !== 'string') throw new UsageError(`${key} must be a path`);
    resolveCgroup(v, key);
    return v;
  },
};

const mapPath: ValueType<string> = {
  parse: (t) => t,
  check: (v, key) => {
    if (typeof v !== 'string' || v === '') throw new UsageError(`${key} must be the path of a pinned BPF map`);
    return v;
  },
};

/** The three container flags: spread into a tool's options (`{ ...mine, ...containerOptions }`). */
export const containerOptions = {
  cgroup: option('--cgroup <PATH>', 'trace only tasks in this cgroup v2 directory or below it', cgroupPath),
  cgroupmap: option('--cgroupmap <MAP>', 'trace only cgroups whose id is a key of this pinned BPF map (BCC)', mapPath),
  mntnsmap: option('--mntnsmap <MAP>', 'trace only mount namespaces whose inode is a key of this pinned BPF map (BCC)', mapPath),
};

/** The TCP tools' flags: a socket has a cgroup (the one it was created in) but no mount namespace. */
export const socketContainerOptions = {
  cgroup: option('--cgroup <PATH>', "trace only sockets created in this cgroup v2 directory or below it", cgroupPath),
  cgroupmap: option('--cgroupmap <MAP>', "trace only sockets whose cgroup id is a key of this pinned BPF map (BCC)", mapPath),
};

const HASH_TYPES = new Set(['hash', 'lru_hash', 'percpu_hash', 'lru_percpu_hash']);

/**
 * Opens a pinned map for --cgroupmap/--mntnsmap and checks it is a hash map
 * keyed by a u64. Returns its fd (the caller closes it); one UsageError line
 * otherwise.
 */
export function openPinnedKeyMap(path: string, flag: string): number {
  const n = native();
  let fs: number;
  try {
    fs = statfsSync(path).type;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`${flag} ${path}: ${code === 'ENOENT' ? 'no such path' : (err as Error).message}`);
  }
  if (fs !== BPF_FS_MAGIC) throw new UsageError(`${flag} ${path}: not a pinned BPF map (it is not on a bpffs; pin maps under /sys/fs/bpf)`);
  let fd: number;
  try {
    fd = n.objGet(path);
  } catch (err) {
    const f = nativeFailure(err);
    const why =
      f.code === 'ENOENT'
        ? 'no such path'
        : f.code === 'EINVAL' || f.code === 'EPERM' || f.code === 'ENOTDIR'
          ? 'not a pinned BPF object (pin the map in a bpffs, e.g. under /sys/fs/bpf)'
          : f.description;
    throw new UsageError(`${flag} ${path}: ${why}`);
  }
  try {
    let info;
    try {
      info = n.mapInfo(fd);
    } catch {
      throw new UsageError(`${flag} ${path}: not a BPF map`);
    }
    if (!HASH_TYPES.has(info.type)) throw new UsageError(`${flag} ${path}: a BPF map of type ${info.type}; expected a hash map keyed by u64`);
    if (info.keySize !== 8) throw new UsageError(`${flag} ${path}: its keys are ${info.keySize} bytes; expected a u64 (8 bytes)`);
    return fd;
  } catch (err) {
    n.closeFd(fd);
    throw err;
  }
}

/** Whether an object has the container knobs (includes ebpf/container.h). */
export function hasContainerFilter(spec: ObjectSpec): boolean {
  return spec.globals.some((g) => g.name === 'ebpf_cgroup_id');
}

/** Sets the container knobs and hands over the pinned maps, before load; nothing when no container option is given. */
export function applyContainerOptions(spec: ObjectSpec, tool: string, opts: ContainerOptions): void {
  const { cgroup, cgroupmap, mntnsmap } = opts;
  if (cgroup === undefined && cgroupmap === undefined && mntnsmap === undefined) return;
  if (!hasContainerFilter(spec)) throw new UsageError(`${tool} has no container filter: its events belong to no process`);
  if (cgroup !== undefined) {
    const t = resolveCgroup(cgroup);
    spec.setConfig({ ebpf_cgroup_id: t.id, ebpf_cgroup_level: t.level });
  }
  for (const [path, flag, map, knob] of [
    [cgroupmap, '--cgroupmap', 'ebpf_cgroupmap', 'ebpf_filter_cgroupmap'],
    [mntnsmap, '--mntnsmap', 'ebpf_mntnsmap', 'ebpf_filter_mntnsmap'],
  ] as const) {
    if (path === undefined) continue;
    const fd = openPinnedKeyMap(path, flag);
    try {
      spec.reuseMap(map, fd);
    } finally {
      native().closeFd(fd); // libbpf holds its own duplicate
    }
    spec.setGlobal(knob, true);
  }
}

/**
 * Names cgroup v2 ids (the `cgroupId` of execsnoop's, exitsnoop's, sigsnoop's
 * and opensnoop's events: bpf/include/ebpf/cgroup_id.h) by their path in the
 * v2 hierarchy, as /proc/PID/cgroup shows it: '/' for the root,
 * '/system.slice/ssh.service'. A cgroup's id is its directory's inode number,
 * so the hierarchy is walked once (one readdir and one stat per cgroup) and
 * kept as id → path; an id not in it makes a new walk, at most once per
 * `rescanMs`, so a storm of unknown ids (cgroups removed before anyone looked)
 * costs one Map lookup each. A walk drops removed cgroups: their ids become
 * unknown (undefined), never another cgroup's name (ids are not reused).
 *
 * cgroup2 is found in /proc/self/mountinfo: /sys/fs/cgroup, or
 * /sys/fs/cgroup/unified on a hybrid v1/v2 system; the mount of the highest
 * cgroup (a container's cgroup namespace mounts its own below '/'). No
 * cgroup2 mounted: every id is unknown.
 */
export class CgroupPaths {
  #ids = new Map<bigint, string>();
  #scanned = -Infinity;
  readonly #mount: { root: string; point: string } | undefined;
  /** Walks made so far (the first in the constructor). */
  scans = 0;

  /** `rescanMs`: the least time between two walks made for an unknown id (default 1000). */
  constructor(readonly rescanMs = 1000) {
    this.#mount = cgroup2Mounts().sort((a, b) => a.root.length - b.root.length)[0];
    this.rescan();
  }

  /** Where the hierarchy was read (undefined: no cgroup2 mounted). */
  get mountPoint(): string | undefined {
    return this.#mount?.point;
  }

  /** The path of cgroup `id`; on a miss, walks the hierarchy again unless it did within `rescanMs`. */
  path(id: bigint): string | undefined {
    const p = this.#ids.get(id);
    if (p !== undefined || performance.now() - this.#scanned < this.rescanMs) return p;
    this.rescan();
    return this.#ids.get(id);
  }

  /** The path of cgroup `id` as of the last walk (never walks). */
  known(id: bigint): string | undefined {
    return this.#ids.get(id);
  }

  /** Walks the hierarchy now. */
  rescan(): void {
    this.#scanned = performance.now();
    this.scans++;
    const ids = new Map<bigint, string>();
    const m = this.#mount;
    if (m) {
      const walk = (dir: string, path: string) => {
        let ino: bigint;
        let entries;
        try {
          ino = statSync(dir, { bigint: true }).ino;
          entries = readdirSync(dir, { withFileTypes: true });
        } catch {
          return; // removed meanwhile, or not ours to read
        }
        ids.set(ino, path);
        const prefix = path === '/' ? '' : path;
        for (const e of entries) if (e.isDirectory()) walk(join(dir, e.name), `${prefix}/${e.name}`);
      };
      walk(m.point, m.root);
    }
    this.#ids = ids;
  }
}
