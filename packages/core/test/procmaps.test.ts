// Finding the files a process has mapped (procmaps.ts) and the USDT probes an
// ELF file declares (sdt.ts), checked on this test process, on the C workload
// of helpers.ts, on a copy of it deleted while it runs, and on one running in
// another mount namespace, where USDT probes are attached through the path
// findMappedFile() gives and must fire.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import {
  EbpfError,
  findMappedFile,
  hasSdtProbe,
  mappedFiles,
  parseSdtNotes,
  readSdtNotes,
} from '../src/index.js';
import { PROBES, Workload, buildWorkload, loadProbes, tempDir, thrown, type TempDir } from './helpers.js';

const CALLS = 20;

let tmp: TempDir;
let workloadBin: string;

beforeAll(() => {
  tmp = tempDir('ebpf-procmaps-test-');
  workloadBin = buildWorkload();
});

afterAll(() => {
  tmp?.cleanup();
});

/** Attaches on_usdt to ebpftest:tick through `binary` for `w`, runs a round, returns the hits. */
async function usdtHits(w: Workload, binary: string): Promise<bigint> {
  const obj = loadProbes();
  try {
    obj.attachUsdt('on_usdt', { binary, pid: w.pid, provider: 'ebpftest', name: 'tick' });
    await w.round();
    return obj.readGlobalInt('hits_usdt');
  } finally {
    obj.close();
  }
}

describe('mappedFiles / findMappedFile', () => {
  it('lists the files this process maps, each openable at its own path here', () => {
    const files = mappedFiles(process.pid);
    const exe = realpathSync(process.execPath);
    const node = files.find((f) => f.path === exe);
    expect(node).toBeDefined();
    expect(node!.hostPath).toBe(exe);
    expect(node!.deleted).toBe(false);
    expect(node!.inode).toBe(statSync(exe).ino);
    for (const f of files) {
      expect(f.path.startsWith('/')).toBe(true);
      expect(f.mappings.length).toBeGreaterThan(0);
      for (let i = 1; i < f.mappings.length; i++) expect(f.mappings[i]!.start).toBeGreaterThan(f.mappings[i - 1]!.start);
    }
    // One entry per file.
    expect(new Set(files.map((f) => `${f.dev} ${f.inode} ${f.path}`)).size).toBe(files.length);
  });

  it('finds a file by base name, absolute path, RegExp or predicate; undefined when not mapped', () => {
    const libc = findMappedFile(process.pid, 'libc.so.6');
    expect(libc).toBeDefined();
    expect(basename(libc!.path)).toBe('libc.so.6');
    expect(libc!.hostPath).toBe(libc!.path);
    expect(libc!.mappings.some((m) => m.perms.includes('x'))).toBe(true);
    expect(findMappedFile(process.pid, libc!.path)?.inode).toBe(libc!.inode);
    expect(findMappedFile(process.pid, /\/libc\.so\.6$/)?.path).toBe(libc!.path);
    expect(findMappedFile(process.pid, (p) => p === libc!.path)?.path).toBe(libc!.path);
    expect(findMappedFile(process.pid, 'libc.so')).toBeUndefined(); // base names match whole
    expect(findMappedFile(process.pid, 'no-such-library.so')).toBeUndefined();
  });

  it('no such process: EbpfError ESRCH; a malformed PID: EINVAL', () => {
    const pidMax = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
    const err = thrown(() => findMappedFile(pidMax + 1, 'libc.so.6'));
    expect(err).toBeInstanceOf(EbpfError);
    expect(err.code).toBe('ESRCH');
    expect(err.message).toBe(`no process with PID ${pidMax + 1}`);
    for (const bad of [0, -1, 1.5]) expect(thrown(() => mappedFiles(bad)).code).toBe('EINVAL');
  });

  it('a file deleted while mapped: found as deleted, opened through /proc/PID/map_files, and USDT probes fire through it', async () => {
    const copy = join(tmp.dir, 'workload-deleted');
    copyFileSync(workloadBin, copy);
    chmodSync(copy, 0o755);
    const w = await Workload.start(copy, CALLS);
    try {
      unlinkSync(copy);
      const f = findMappedFile(w.pid, 'workload-deleted');
      expect(f).toBeDefined();
      expect(f!.deleted).toBe(true);
      expect(f!.path).toBe(copy);
      expect(f!.hostPath).toMatch(new RegExp(`^/proc/${w.pid}/map_files/[0-9a-f]+-[0-9a-f]+$`));
      expect(hasSdtProbe(readSdtNotes(f!.hostPath), 'ebpftest', 'tick')).toBe(true);
      expect(await usdtHits(w, f!.hostPath)).toBe(BigInt(CALLS));
    } finally {
      await w.stop();
    }
  });

  it('a process in another mount namespace: its path is not ours, /proc/PID/root reaches the file, and USDT probes fire through it', async () => {
    // The workload runs from a directory bind-mounted only in its own mount
    // namespace: on the host, that directory is empty. unshare without --fork
    // and `exec` keep one PID from the script to the workload.
    const src = join(tmp.dir, 'src');
    const mnt = join(tmp.dir, 'mnt');
    mkdirSync(src);
    mkdirSync(mnt);
    copyFileSync(workloadBin, join(src, 'workload-ns'));
    chmodSync(join(src, 'workload-ns'), 0o755);
    const script = join(tmp.dir, 'in-namespace.sh');
    writeFileSync(script, `#!/bin/sh\nexec unshare --mount --propagation private sh -c 'mount --bind ${src} ${mnt} && exec ${mnt}/workload-ns "$@"' sh "$@"\n`);
    chmodSync(script, 0o755);
    const w = await Workload.start(script, CALLS);
    try {
      const f = findMappedFile(w.pid, 'workload-ns');
      expect(f).toBeDefined();
      expect(f!.path).toBe(join(mnt, 'workload-ns'));
      expect(existsSync(f!.path)).toBe(false); // not in our namespace
      expect(f!.deleted).toBe(false);
      expect(f!.hostPath).toBe(`/proc/${w.pid}/root${f!.path}`);
      expect(statSync(f!.hostPath).ino).toBe(f!.inode);
      expect(await usdtHits(w, f!.hostPath)).toBe(BigInt(CALLS));
    } finally {
      await w.stop();
    }
  });
});

describe('readSdtNotes / parseSdtNotes', () => {
  it('lists the workload\'s probe with its argument spec and no semaphore', () => {
    const probes = readSdtNotes(workloadBin);
    expect(probes).toHaveLength(1);
    const [p] = probes;
    expect(p!.provider).toBe('ebpftest');
    expect(p!.name).toBe('tick');
    expect(p!.args).toMatch(/^-?[1248]@\S+$/); // one argument, the int i
    expect(p!.semaphore).toBe(0n);
    expect(p!.address).toBeGreaterThan(0n);
    expect(hasSdtProbe(probes, 'ebpftest', 'tick')).toBe(true);
    expect(hasSdtProbe(probes, 'ebpftest', 'tock')).toBe(false);
    expect(hasSdtProbe(probes, 'other', 'tick')).toBe(false);
  });

  it('an ELF file without SDT notes has none; a file that is not ELF is an EbpfError', () => {
    expect(readSdtNotes(PROBES)).toEqual([]);
    const text = join(tmp.dir, 'not-elf');
    writeFileSync(text, 'hello\n'.repeat(20));
    const err = thrown(() => readSdtNotes(text));
    expect(err).toBeInstanceOf(EbpfError);
    expect(err.message).toContain('not an ELF file');
    expect(thrown(() => readSdtNotes(join(tmp.dir, 'missing'))).code).toBe('ENOENT');
  });

  it('parses notes byte by byte: skips other owners and types, stops at a truncated note', () => {
    const note = (owner: string, type: number, desc: Buffer): Buffer => {
      const name = Buffer.from(`${owner}\0`);
      const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);
      const head = Buffer.alloc(12);
      head.writeUInt32LE(name.length, 0);
      head.writeUInt32LE(desc.length, 4);
      head.writeUInt32LE(type, 8);
      return Buffer.concat([head, pad(name), pad(desc)]);
    };
    const sdt = (provider: string, name: string, args: string, addr: bigint, sema: bigint) => {
      const a = Buffer.alloc(24);
      a.writeBigUInt64LE(addr, 0);
      a.writeBigUInt64LE(0x1000n, 8);
      a.writeBigUInt64LE(sema, 16);
      return note('stapsdt', 3, Buffer.concat([a, Buffer.from(`${provider}\0${name}\0${args}\0`)]));
    };
    const buf = Buffer.concat([
      note('GNU', 3, Buffer.alloc(20, 0xab)), // a build-id: other owner
      sdt('hotspot', 'gc__begin', '1@%dil', 0x783c60n, 0n),
      note('stapsdt', 7, Buffer.alloc(30)), // other type
      sdt('hotspot', 'gc__end', '', 0x783c70n, 0x5000n),
    ]);
    expect(parseSdtNotes(buf)).toEqual([
      { provider: 'hotspot', name: 'gc__begin', address: 0x783c60n, base: 0x1000n, semaphore: 0n, args: '1@%dil' },
      { provider: 'hotspot', name: 'gc__end', address: 0x783c70n, base: 0x1000n, semaphore: 0x5000n, args: '' },
    ]);
    expect(parseSdtNotes(buf.subarray(0, buf.length - 3))).toHaveLength(1);
    expect(parseSdtNotes(Buffer.alloc(0))).toEqual([]);
  });
});
