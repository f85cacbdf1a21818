// Errors of the native layer: raw there (the operation and errno), worded in
// TypeScript with the caller's context; and libbpf's expected notices kept
// out of what a user sees.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { AttachError, EbpfError, LoadError, ObjectSpec } from '../src/index.js';
import { native } from '../src/native/load.js';
import { errnoName, nativeFailure } from '../src/native/errno.js';
import { CORE_DIST_INDEX, PROBES, REJECTED, loadProbes, thrown } from './helpers.js';

describe('native errors', () => {
  it('are raw in the addon: the operation and the errno, no wording', () => {
    const raw = thrown(() => new (native().NativeObject)(Buffer.from('not an ELF file'), 'junk')) as Error & { op?: string; errno?: number };
    expect(raw.op).toBe('bpf_object__open_mem');
    expect(raw.message).toBe('bpf_object__open_mem');
    expect(raw.errno).toBeGreaterThan(0);
    expect(nativeFailure(raw).description).toBe('BPF object format invalid'); // libbpf's own errno (4001)
  });

  it('errno names come from Node (Linux names where they differ), E<n> for the rest', () => {
    expect(errnoName(1)).toBe('EPERM');
    expect(errnoName(2)).toBe('ENOENT');
    expect(errnoName(13)).toBe('EACCES');
    expect(errnoName(95)).toBe('EOPNOTSUPP');
    expect(errnoName(524)).toBe('E524');
  });

  it('are worded in TypeScript with what was being done', () => {
    const open = thrown(() => ObjectSpec.fromFile('/etc/hostname'));
    expect(open).toBeInstanceOf(LoadError);
    expect(open.message).toBe('cannot open BPF object hostname: BPF object format invalid');

    const spec = ObjectSpec.fromFile(PROBES);
    try {
      const prog = thrown(() => spec.setAutoload('nosuch', false));
      expect(prog).toBeInstanceOf(EbpfError);
      expect(prog.message).toBe('BPF object probes has no program nosuch');
      expect(prog.code).toBe('ENOENT');
      const map = thrown(() => spec.setMaxEntries('nosuch', 4));
      expect(map.message).toBe('BPF object probes has no map nosuch');
    } finally {
      spec.close();
    }

    const rejected = thrown(() => ObjectSpec.fromFile(REJECTED).load());
    expect(rejected.message).toBe('cannot load BPF object rejected: Permission denied');
    expect(rejected.code).toBe('EACCES');
    expect((rejected as LoadError).log).toContain('invalid mem access');

    const obj = loadProbes();
    try {
      const update = thrown(() => obj.map('hash').update(Buffer.alloc(4), Buffer.alloc(8), 2 /* BPF_EXIST */));
      expect(update.message).toBe('map hash: map update: No such file or directory');
      expect(update.code).toBe('ENOENT');
      const uprobe = thrown(() => obj.attachUprobe('on_uprobe', { binary: '/bin/true', symbol: 'no_such_function' }));
      expect(uprobe).toBeInstanceOf(AttachError);
      expect(uprobe.message).toBe('cannot attach uprobe /bin/true:no_such_function: No such file or directory');
    } finally {
      obj.close();
    }
  });

  it("libbpf's notice about the .ebpf.types section is dropped, even with verbose output", () => {
    const script = `
      const { ObjectSpec, setLibbpfVerbose } = await import(${JSON.stringify(CORE_DIST_INDEX)});
      setLibbpfVerbose(true);
      ObjectSpec.fromFile(${JSON.stringify(PROBES)}).load().close();
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('libbpf:'); // verbose: libbpf's debug output is there
    expect(r.stderr).not.toMatch(/skipping unrecognized data section.*\.ebpf\.types/);
  });
});
