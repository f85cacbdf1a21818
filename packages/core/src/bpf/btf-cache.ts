// CO-RE relocations need the kernel's BTF, and libbpf 1.1 reads all of it
// (5.5 MB here, copied once more while parsing) into every tool at load: about
// 11 MB of peak memory and several milliseconds of start-up, to resolve a few
// dozen field offsets. bpftool can cut the kernel BTF down to exactly the types
// an object relocates against (`bpftool gen min_core_btf`, upstream's BTFgen):
// for execsnoop, 544 bytes. This keeps those minimized files in a cache keyed by
// the running kernel and the object file, so only the first run on a kernel
// pays, and later runs hand libbpf the small file (btf_custom_path).
//
// Without bpftool, or when anything here fails, the object is opened the
// normal way (full kernel BTF): slower, never wrong.
import { existsSync, mkdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { childProcess } from '../kernel/child-process.js';

const KERNEL_BTF = '/sys/kernel/btf/vmlinux';

function cacheDir(): string {
  if (process.env.EBPF_BTF_CACHE_DIR) return process.env.EBPF_BTF_CACHE_DIR;
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'ebpf-tools', 'btf');
}

/** Identifies the running kernel's BTF without reading it. */
function kernelIdentity(): string {
  const release = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  const version = readFileSync('/proc/sys/kernel/version', 'utf8').trim();
  const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  return `${release}\n${version}\n${boot}\n${statSync(KERNEL_BTF).size}`;
}

/**
 * A 64-bit hash (two 32-bit multiply-xorshift lanes) as hex. Not
 * cryptographic: it only names cache files, and the key also carries the
 * object's size. Avoids loading node:crypto, which costs start-up memory.
 */
function hash64(parts: Array<string | Uint8Array>): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x9e3779b9;
  const mix = (b: number) => {
    h1 = Math.imul(h1 ^ b, 0x01000193);
    h2 = Math.imul(h2 ^ b, 0x5bd1e995);
    h2 ^= h2 >>> 15;
  };
  for (const p of parts) {
    if (typeof p === 'string') for (let i = 0; i < p.length; i++) mix(p.charCodeAt(i));
    else for (let i = 0; i < p.length; i++) mix(p[i]!);
  }
  return (h1 >>> 0).toString(16).padStart(8, '0') + (h2 >>> 0).toString(16).padStart(8, '0');
}

function findBpftool(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin'])) {
    if (dir && existsSync(join(dir, 'bpftool'))) return join(dir, 'bpftool');
  }
  return undefined;
}

/**
 * Path of a minimized kernel BTF for this object (creating it if needed), or
 * undefined to use the full kernel BTF. `objectPath` is the .bpf.o on disk.
 */
export function minimizedBtf(objectPath: string, image: Buffer): string | undefined {
  if (process.env.EBPF_BTF_CACHE === '0' || !existsSync(KERNEL_BTF)) return undefined;
  try {
    // The object is named by its path and its file's identity (inode, size,
    // change time), not by hashing its bytes: that hash cost ~7 ms of every
    // start. A rebuilt or reinstalled object has a new identity.
    const st = statSync(objectPath, { bigint: true });
    const key = `${hash64([kernelIdentity(), `${objectPath}\n${st.dev}:${st.ino}\n${st.ctimeNs}\n${st.mtimeNs}`])}-${image.length}`;
    const dir = cacheDir();
    const file = join(dir, `${key}.btf`);
    if (existsSync(file)) return file;
    const bpftool = findBpftool();
    if (!bpftool) return undefined;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    const r = childProcess().spawnSync(bpftool, ['gen', 'min_core_btf', KERNEL_BTF, tmp, objectPath], { stdio: 'ignore', timeout: 10_000 });
    if (r.status !== 0 || !existsSync(tmp)) return undefined;
    renameSync(tmp, file);
    return file;
  } catch {
    return undefined;
  }
}
