// The loader tells the cause of a failure, and the fix for it, for real files
// dlopen() refuses: another architecture's prebuilt, damaged files, a library
// that is not installed, a glibc symbol version this system lacks. Each is
// loaded through EBPF_CORE_ADDON (which, when set, is the only candidate).
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { NativeLoadError } from '../src/errors.js';
import { native } from '../src/native/load.js';
import { tempDir } from '../../../test/support/tmp.js';

const core = join(import.meta.dirname, '..');
const tmp = tempDir('ebpf-native-load-');
afterAll(() => tmp.cleanup());
afterEach(() => delete process.env.EBPF_CORE_ADDON);

function loadFails(path: string): NativeLoadError {
  process.env.EBPF_CORE_ADDON = path;
  try {
    native();
  } catch (err) {
    expect(err).toBeInstanceOf(NativeLoadError);
    return err as NativeLoadError;
  }
  throw new Error(`${path} loaded`);
}

const gcc = (args: string[]) => execFileSync('gcc', args, { cwd: tmp.dir, stdio: 'pipe' });

describe('the loader says why an addon does not load', () => {
  it('another architecture: the arm64 prebuilt on this x64 machine', () => {
    const err = loadFails(join(core, 'prebuilds/linux-arm64/ebpf_core.node'));
    expect(err.reason).toBe('wrong-architecture');
    expect(err.message).toContain('it is built for arm64, and this machine is x64');
    expect(err.message).toContain('npm install');
  });

  it('a truncated or a foreign file: corrupt, told before dlopen() (which would crash on it)', () => {
    const whole = readFileSync(join(core, 'prebuilds/linux-x64/ebpf_core.node'));
    const cut = join(tmp.dir, 'cut.node');
    writeFileSync(cut, whole.subarray(0, whole.length >> 1));
    let err = loadFails(cut);
    expect(err.reason).toBe('corrupt-file');
    expect(err.message).toMatch(/it is truncated \(\d+ bytes; its headers reach byte \d+\)/);
    const text = join(tmp.dir, 'text.node');
    writeFileSync(text, '<html>proxy error</html>\n');
    err = loadFails(text);
    expect(err.reason).toBe('corrupt-file');
    expect(err.message).toContain('not an ELF shared object');
  });

  it('a library that is not installed: names it, and the package to install', () => {
    // An addon-shaped object that needs libebpf-absent.so.1, which is then removed.
    writeFileSync(join(tmp.dir, 'absent.c'), 'int absent_fn(void) { return 1; }\n');
    writeFileSync(join(tmp.dir, 'needs.c'), 'int absent_fn(void); int call_it(void) { return absent_fn(); }\n');
    gcc(['-shared', '-fPIC', '-Wl,-soname,libebpf-absent.so.1', '-o', 'libebpf-absent.so', 'absent.c']);
    gcc(['-shared', '-fPIC', '-o', 'needs.node', 'needs.c', '-L.', '-lebpf-absent']);
    rmSync(join(tmp.dir, 'libebpf-absent.so'));
    const err = loadFails(join(tmp.dir, 'needs.node'));
    expect(err.reason).toBe('missing-library');
    expect(err.message).toContain('it needs libebpf-absent.so.1, which is not installed');
    expect(err.message).toMatch(/Fix: install the package that has libebpf-absent\.so\.1/);
  });

  it('a glibc symbol version this system does not have: needed and present versions, and the build from source', () => {
    // libfake.so.1 defines fake_fn@GLIBC_2.99 when the object is linked, and
    // is replaced by one without that version, as an old system's libc is.
    writeFileSync(join(tmp.dir, 'fake.c'), 'int fake_fn(void) { return 2; }\n');
    writeFileSync(join(tmp.dir, 'new.map'), 'GLIBC_2.99 { global: fake_fn; local: *; };\n');
    writeFileSync(join(tmp.dir, 'old.map'), 'GLIBC_2.2.5 { global: fake_fn; local: *; };\n');
    writeFileSync(join(tmp.dir, 'user.c'), 'int fake_fn(void); int use_it(void) { return fake_fn(); }\n');
    gcc(['-shared', '-fPIC', '-Wl,-soname,libfake.so.1', '-Wl,--version-script=new.map', '-o', 'libfake.so', 'fake.c']);
    gcc(['-shared', '-fPIC', '-o', 'user.node', 'user.c', '-L.', '-lfake', `-Wl,-rpath,${tmp.dir}`]);
    gcc(['-shared', '-fPIC', '-Wl,-soname,libfake.so.1', '-Wl,--version-script=old.map', '-o', 'libfake.so.1', 'fake.c']);
    const err = loadFails(join(tmp.dir, 'user.node'));
    expect(err.reason).toBe('glibc-too-old');
    const have = (process.report.getReport() as { header: { glibcVersionRuntime: string } }).header.glibcVersionRuntime;
    expect(err.message).toContain(`it needs glibc 2.99 or newer, and this system has ${have}`);
    expect(err.message).toContain('The prebuilt addon needs glibc 2.28 or newer');
    // Debian here: its command only, then the build itself.
    expect(err.message).toContain('apt-get install -y cmake g++ make libbpf-dev libelf-dev zlib1g-dev   (Debian, Ubuntu)');
    expect(err.message).not.toContain('dnf');
    expect(err.message).toContain('npx cmake-js compile --out build');
  });

  it('a missing file says not found, and the prebuilt for this machine loads', () => {
    const err = loadFails(join(tmp.dir, 'nothing-here.node'));
    expect(err.reason).toBe('not-found');
    const copy = join(tmp.dir, 'good.node');
    copyFileSync(join(core, 'prebuilds/linux-x64/ebpf_core.node'), copy);
    process.env.EBPF_CORE_ADDON = copy;
    expect(typeof native().strerror).toBe('function');
    expect(existsSync(copy)).toBe(true);
  });
});
