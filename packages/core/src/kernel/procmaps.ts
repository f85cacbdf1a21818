// Files a process has mapped, from /proc/PID/maps, and a path that opens each
// from here. Tools that put uprobes or USDT probes in a library a process
// uses (javagc: libjvm.so; memleak: libc) need both: the path as the process
// sees it, to name it, and a path this process can open, for libbpf to read
// the ELF file and for the kernel to find the inode the probe goes on.
//
// The two differ when the process runs in a container (another mount
// namespace: its /usr/lib is not ours), and when the file was deleted or
// replaced after it was mapped (a package upgrade while the program runs).
// /proc/PID/root/PATH reaches the first; /proc/PID/map_files/START-END, a
// link to the very file the mapping holds, reaches both.
import { readFileSync, readlinkSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { EbpfError } from '../errors.js';
import { parseMaps, type Mapping } from '../symbolize/user.js';

export type { Mapping } from '../symbolize/user.js';

export interface MappedFile {
  pid: number;
  /** The path as the process sees it (from /proc/PID/maps), without " (deleted)". */
  path: string;
  /**
   * A path that opens the same file from this process: `path` itself when the
   * process shares our mount namespace and the file is unchanged, else
   * /proc/PID/root/PATH (a container), else /proc/PID/map_files/START-END (the
   * file was deleted or replaced; needs CAP_SYS_ADMIN, as tracing does).
   */
  hostPath: string;
  /** The mapped file no longer exists under `path`. */
  deleted: boolean;
  /** Device ("fe:00") and inode of the mapped file, as /proc/PID/maps shows them. */
  dev: string;
  inode: number;
  /** Every mapping of this file, by address. */
  mappings: Mapping[];
}

/** What to look for: a base name ("libc.so.6"), an absolute path, a pattern, or a test. */
export type FileMatch = string | RegExp | ((path: string) => boolean);

function readMaps(pid: number): Mapping[] {
  if (!Number.isInteger(pid) || pid <= 0) throw new EbpfError(`invalid PID ${pid}`, 'EINVAL');
  try {
    return parseMaps(readFileSync(`/proc/${pid}/maps`, 'latin1'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    if (code === 'ENOENT' || code === 'ESRCH') throw new EbpfError(`no process with PID ${pid}`, 'ESRCH', { cause: err });
    if (code === 'EACCES' || code === 'EPERM') {
      // Reading another process's maps takes ptrace read access to it, which
      // root can be refused too (no CAP_SYS_PTRACE or CAP_DAC_OVERRIDE in a
      // container, Yama, Landlock, SELinux): say which case this is.
      const why =
        process.geteuid?.() === 0
          ? 'even as root (a missing capability, the ptrace access check or a security module refuses it)'
          : 'it takes ptrace access to the process: run as root, or as its owner';
      throw new EbpfError(`cannot read /proc/${pid}/maps: permission denied, ${why}`, code, { cause: err });
    }
    throw new EbpfError(`cannot read /proc/${pid}/maps: ${(err as Error).message}`, code, { cause: err });
  }
}

function sameMountNamespace(pid: number): boolean {
  try {
    return readlinkSync(`/proc/${pid}/ns/mnt`) === readlinkSync('/proc/self/ns/mnt');
  } catch {
    return false;
  }
}

function inodeOf(path: string): number | undefined {
  try {
    return statSync(path).ino;
  } catch {
    return undefined;
  }
}

function hostPathFor(pid: number, file: Omit<MappedFile, 'hostPath'>, sameNs: boolean): string {
  if (!file.deleted) {
    if (sameNs && inodeOf(file.path) === file.inode) return file.path;
    const viaRoot = `/proc/${pid}/root${file.path}`;
    if (inodeOf(viaRoot) === file.inode) return viaRoot;
  }
  const m = file.mappings[0]!;
  return `/proc/${pid}/map_files/${m.start.toString(16)}-${m.end.toString(16)}`;
}

function matcher(match: FileMatch): (path: string) => boolean {
  if (typeof match === 'function') return match;
  if (match instanceof RegExp) return (p) => match.test(p);
  return match.startsWith('/') ? (p) => p === match : (p) => basename(p) === match;
}

/**
 * The files mapped by process `pid` (regular files only: not anonymous
 * memory, [heap], [vdso] and the like), in the order they first appear in
 * /proc/PID/maps. Throws an EbpfError (code ESRCH) when there is no such
 * process, EACCES when its maps cannot be read.
 */
export function mappedFiles(pid: number): MappedFile[] {
  const byFile = new Map<string, Omit<MappedFile, 'hostPath'>>();
  for (const m of readMaps(pid)) {
    if (!m.path.startsWith('/') || m.inode === 0) continue;
    const key = `${m.dev} ${m.inode} ${m.path}`;
    const f = byFile.get(key);
    if (f) f.mappings.push(m);
    else byFile.set(key, { pid, path: m.path, deleted: m.deleted, dev: m.dev, inode: m.inode, mappings: [m] });
  }
  const sameNs = sameMountNamespace(pid);
  return [...byFile.values()].map((f) => ({ ...f, hostPath: hostPathFor(pid, f, sameNs) }));
}

/**
 * The first file mapped by `pid` that matches: a base name ("libjvm.so"), an
 * absolute path, a RegExp or a predicate on the path. Undefined when none
 * does; throws as mappedFiles() when the maps cannot be read.
 */
export function findMappedFile(pid: number, match: FileMatch): MappedFile | undefined {
  const test = matcher(match);
  const sameNs = sameMountNamespace(pid);
  const found = new Map<string, Omit<MappedFile, 'hostPath'>>();
  let first: string | undefined;
  for (const m of readMaps(pid)) {
    if (!m.path.startsWith('/') || m.inode === 0) continue;
    const key = `${m.dev} ${m.inode} ${m.path}`;
    const f = found.get(key);
    if (f) {
      f.mappings.push(m);
      continue;
    }
    if (first !== undefined || !test(m.path)) continue;
    first = key;
    found.set(key, { pid, path: m.path, deleted: m.deleted, dev: m.dev, inode: m.inode, mappings: [m] });
  }
  if (first === undefined) return undefined;
  const f = found.get(first)!;
  return { ...f, hostPath: hostPathFor(pid, f, sameNs) };
}
