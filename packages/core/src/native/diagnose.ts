// Why an addon file does not load, and the fix for that cause.
//
// The ELF header is read before dlopen() runs, because dlopen() answers "No
// such file or directory" for another architecture's file (it exists) and can
// crash the process (SIGBUS) on a truncated one. What dlopen() itself reports
// (a glibc symbol version, a missing library) is read from its message.
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';

/** The cause, for callers that test for it (NativeLoadError.reason). */
export type LoadFailure = 'not-found' | 'wrong-architecture' | 'corrupt-file' | 'glibc-too-old' | 'musl' | 'missing-library' | 'unknown';

export interface Diagnosis {
  reason: LoadFailure;
  /** One clause: what is wrong with this file on this machine. */
  detail: string;
}

/** ELF e_machine values, as Node names architectures. */
const MACHINES: Record<number, string> = { 3: 'ia32', 40: 'arm', 62: 'x64', 183: 'arm64', 243: 'riscv64', 21: 'ppc64', 22: 's390x' };

/** Checks the file's ELF header against this machine; undefined when it may load. */
export function inspectElf(path: string): Diagnosis | undefined {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const h = Buffer.alloc(64);
    const n = readSync(fd, h, 0, 64, 0);
    if (n < 4 || h.readUInt32BE(0) !== 0x7f454c46) return { reason: 'corrupt-file', detail: 'it is not an ELF shared object (damaged or replaced)' };
    if (n < 64) return { reason: 'corrupt-file', detail: `it is truncated (${size} bytes)` };
    const machine = MACHINES[h.readUInt16LE(18)] ?? `machine ${h.readUInt16LE(18)}`;
    const bits = h[4] === 2 ? 64 : 32;
    if (bits !== 64 || h[5] !== 1 || machine !== process.arch) {
      return { reason: 'wrong-architecture', detail: `it is built for ${machine}${bits === 64 ? '' : ' (32-bit)'}, and this machine is ${process.arch}` };
    }
    // The program and section header tables end where the file should; a
    // stripped object keeps its section headers last.
    const tables = [
      [h.readBigUInt64LE(32), h.readUInt16LE(54), h.readUInt16LE(56)],
      [h.readBigUInt64LE(40), h.readUInt16LE(58), h.readUInt16LE(60)],
    ] as const;
    const end = tables.reduce((m, [off, entsize, num]) => Math.max(m, Number(off) + entsize * num), 0);
    if (end > size) return { reason: 'corrupt-file', detail: `it is truncated (${size} bytes; its headers reach byte ${end})` };
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** Facts about this machine that the fixes depend on. */
export interface HostFacts {
  /** glibc's version, or undefined where the C library is not glibc (musl). */
  glibc: string | undefined;
  distro: Distro | undefined;
}

type Distro = 'debian' | 'rhel' | 'alpine';

export function hostFacts(): HostFacts {
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return { glibc: header?.glibcVersionRuntime, distro: distro() };
}

function distro(): Distro | undefined {
  let text = '';
  try {
    text = readFileSync('/etc/os-release', 'utf8');
  } catch {
    return undefined;
  }
  const ids = [...text.matchAll(/^(?:ID|ID_LIKE)="?([^"\n]*)"?$/gm)].flatMap((m) => m[1]!.split(/\s+/));
  if (ids.some((id) => ['debian', 'ubuntu'].includes(id))) return 'debian';
  if (ids.some((id) => ['rhel', 'fedora', 'centos', 'amzn', 'rocky', 'almalinux'].includes(id))) return 'rhel';
  if (ids.includes('alpine')) return 'alpine';
  return undefined;
}

/** Reads dlopen()'s message for a file whose header looked right. */
export function explainDlopenError(message: string, path: string, facts: HostFacts): Diagnosis {
  const glibc = /version [`']GLIBC_([\d.]+)' not found/.exec(message);
  if (glibc) return { reason: 'glibc-too-old', detail: `it needs glibc ${glibc[1]} or newer, and this system has ${facts.glibc ?? 'no glibc'}` };
  if (facts.glibc === undefined && !path.includes('-musl/')) {
    return { reason: 'musl', detail: "it is built for glibc, and this system's C library is musl" };
  }
  const lib = /([^\s:/]+\.so[\d.]*): cannot open shared object file/.exec(message);
  if (lib && !path.endsWith(lib[1]!)) return { reason: 'missing-library', detail: `it needs ${lib[1]}, which is not installed` };
  if (/file too short|invalid ELF header|ELF load command|no section header|bad ELF/i.test(message)) {
    return { reason: 'corrupt-file', detail: `it is damaged (${message.replace(`${path}: `, '')})` };
  }
  return { reason: 'unknown', detail: message.replace(`${path}: `, '') };
}

const DISTROS: Record<Distro, { name: string; install: string; build: string; libs: Record<string, string> }> = {
  debian: {
    name: 'Debian, Ubuntu',
    install: 'apt-get install -y',
    build: 'cmake g++ make libbpf-dev libelf-dev zlib1g-dev',
    libs: { 'libelf.so.1': 'libelf1', 'libz.so.1': 'zlib1g', 'libbpf.so.1': 'libbpf1', 'libbpf.so.0': 'libbpf0', 'libstdc++.so.6': 'libstdc++6' },
  },
  rhel: {
    name: 'RHEL, Fedora, Amazon Linux',
    install: 'dnf install -y',
    build: 'cmake gcc-c++ make libbpf-devel elfutils-libelf-devel zlib-devel',
    libs: { 'libelf.so.1': 'elfutils-libelf', 'libz.so.1': 'zlib', 'libbpf.so.1': 'libbpf', 'libbpf.so.0': 'libbpf', 'libstdc++.so.6': 'libstdc++' },
  },
  alpine: {
    name: 'Alpine',
    install: 'apk add',
    build: 'cmake g++ make libbpf-dev elfutils-dev zlib-dev linux-headers',
    libs: { 'libelf.so.1': 'libelf', 'libz.so.1': 'zlib', 'libbpf.so.1': 'libbpf', 'libbpf.so.0': 'libbpf', 'libstdc++.so.6': 'libstdc++' },
  },
};

/** The distributions to give commands for: this one when known, else all. */
function distros(facts: HostFacts): Distro[] {
  return facts.distro ? [facts.distro] : ['debian', 'rhel', 'alpine'];
}

/** Building the addon on this machine, against its own libraries. */
function compileFromSource(coreRoot: string, facts: HostFacts): string[] {
  return [
    'Fix: build the addon on this machine, from source:',
    ...distros(facts).map((d) => `  ${DISTROS[d].install} ${DISTROS[d].build}   (${DISTROS[d].name})`),
    `  cd ${coreRoot} && npm install --no-save cmake-js@8 node-addon-api@8 && npx cmake-js compile --out build`,
  ];
}

/** The fix for the first cause found (the most specific file's). */
export function fixFor(d: Diagnosis, root: string, facts: HostFacts): string[] {
  // No trailing slash: `rm -rf link/` would empty a workspace link's target.
  const coreRoot = root.replace(/\/+$/, '');
  switch (d.reason) {
    case 'missing-library': {
      const lib = /needs (\S+),/.exec(d.detail)![1]!;
      return [
        `Fix: install the package that has ${lib}:`,
        ...distros(facts).map((x) => `  ${DISTROS[x].install} ${DISTROS[x].libs[lib] ?? `<the package with ${lib}>`}   (${DISTROS[x].name})`),
      ];
    }
    case 'corrupt-file':
      return ['Fix: reinstall the package (the download or the disk damaged it):', `  rm -rf ${coreRoot} && npm install`];
    case 'not-found':
      return ['Fix: reinstall the package; it ships a prebuilt addon for linux-x64 and linux-arm64:', `  rm -rf ${coreRoot} && npm install`];
    case 'wrong-architecture':
      if (process.arch === 'x64' || process.arch === 'arm64') {
        return ['Fix: reinstall on this machine (node_modules were copied from another architecture):', `  rm -rf ${coreRoot} && npm install`];
      }
      return [`There is no prebuilt addon for ${process.arch} (only x64 and arm64).`, ...compileFromSource(coreRoot, facts)];
    case 'glibc-too-old':
      return ['The prebuilt addon needs glibc 2.28 or newer (RHEL 8, Ubuntu 20.04, Debian 10, Amazon Linux 2023).', ...compileFromSource(coreRoot, facts)];
    case 'musl':
      return ['There is no prebuilt addon for musl.', ...compileFromSource(coreRoot, facts)];
    case 'unknown':
      return compileFromSource(coreRoot, facts);
  }
}
