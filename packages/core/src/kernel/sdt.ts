// The USDT probes an ELF file declares: its SystemTap SDT notes.
//
// <sys/sdt.h> (DTRACE_PROBE*, and HotSpot's, Node's, Python's, PostgreSQL's
// probes) leaves a `nop` at each probe site and one ELF note per site in the
// .note.stapsdt section: type NT_STAPSDT (3), owner "stapsdt", and a
// descriptor holding three addresses (the site, the .stapsdt.base section's
// address when linked, the semaphore or 0) and three strings: provider, probe
// name, argument specs ("8@%rdi -4@%eax 1@$1"). libbpf reads the same notes
// when it attaches; listing them first lets a tool say clearly "this binary
// has no such probe" (a JVM built without DTrace support, say) instead of
// relaying an attach errno.
import { closeSync, openSync, readSync } from 'node:fs';
import { EbpfError } from '../errors.js';
import { ElfFile, SHT_NOTE } from '../symbolize/elf.js';

export interface SdtProbe {
  provider: string;
  name: string;
  /** The probe site: its link-time address (libbpf turns it into a file offset). */
  address: bigint;
  /** Link-time address of .stapsdt.base (for prelink adjustment; 0 if none). */
  base: bigint;
  /** Address of the semaphore a tracer must increment to enable the probe; 0 when it has none. */
  semaphore: bigint;
  /** The argument specs, as written in the note ("" for a probe without arguments). */
  args: string;
}

const NT_STAPSDT = 3;
const MAX_NOTES_BYTES = 64 * 1024 * 1024;

function align4(n: number): number {
  return (n + 3) & ~3;
}

/** Parses the bytes of a .note.stapsdt section (ELF64, little-endian). */
export function parseSdtNotes(buf: Buffer): SdtProbe[] {
  const out: SdtProbe[] = [];
  let p = 0;
  while (p + 12 <= buf.length) {
    const namesz = buf.readUInt32LE(p);
    const descsz = buf.readUInt32LE(p + 4);
    const type = buf.readUInt32LE(p + 8);
    const nameOff = p + 12;
    const descOff = nameOff + align4(namesz);
    const next = descOff + align4(descsz);
    if (next > buf.length || next <= p) break;
    const owner = buf.toString('latin1', nameOff, nameOff + Math.max(0, namesz - 1));
    if (type === NT_STAPSDT && owner === 'stapsdt' && descsz >= 24) {
      const desc = buf.subarray(descOff, descOff + descsz);
      const strings: string[] = [];
      let s = 24;
      for (let i = 0; i < 3; i++) {
        let e = desc.indexOf(0, s);
        if (e < 0) e = desc.length;
        strings.push(desc.toString('utf8', s, e));
        s = e + 1;
      }
      out.push({
        provider: strings[0]!,
        name: strings[1]!,
        address: desc.readBigUInt64LE(0),
        base: desc.readBigUInt64LE(8),
        semaphore: desc.readBigUInt64LE(16),
        args: strings[2]!,
      });
    }
    p = next;
  }
  return out;
}

/**
 * The USDT probes declared in the ELF file at `path` (every site: a probe
 * inlined in several places is listed once per place). Empty when the file
 * has no SDT notes. Throws an EbpfError when the file cannot be read or is not
 * an ELF64 little-endian file.
 */
export function readSdtNotes(path: string): SdtProbe[] {
  let elf: ElfFile;
  try {
    elf = ElfFile.open(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'ENOEXEC';
    throw new EbpfError(`cannot read USDT notes of ${path}: ${(err as Error).message}`, code, { cause: err });
  }
  const sections = elf.sections.filter(
    (s) => s.type === SHT_NOTE && s.name === '.note.stapsdt' && s.size > 0 && s.size <= MAX_NOTES_BYTES,
  );
  if (sections.length === 0) return [];
  const fd = openSync(path, 'r');
  try {
    const out: SdtProbe[] = [];
    for (const s of sections) {
      const buf = Buffer.alloc(s.size);
      let done = 0;
      while (done < s.size) {
        const n = readSync(fd, buf, done, s.size - done, elf.imageOffset + s.offset + done);
        if (n <= 0) break;
        done += n;
      }
      out.push(...parseSdtNotes(buf.subarray(0, done)));
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/** Whether `probes` (from readSdtNotes) has provider:name. */
export function hasSdtProbe(probes: readonly SdtProbe[], provider: string, name: string): boolean {
  return probes.some((p) => p.provider === provider && p.name === name);
}
