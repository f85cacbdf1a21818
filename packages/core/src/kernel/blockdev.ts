// Block devices by name and by number, for tools that see the kernel's dev_t
// (biolatency -D, biosnoop, ...) and for their "only this disk" options.
//
// Two encodings of a device number exist, and they differ:
//   * inside the kernel, dev_t is major << 20 | minor (MINORBITS = 20): what a
//     BPF program computes from a gendisk or reads from a tracepoint's `dev`;
//   * user space (stat's st_rdev, glibc's makedev) uses another layout.
// Here a device is always { major, minor }; kernelDev()/fromKernelDev()
// convert to and from the kernel's form.
//
// Names come from sysfs: /sys/dev/block/MAJ:MIN links to the device's
// directory (its uevent has DEVNAME, the name under /dev), and
// /sys/class/block/NAME has `dev` ("MAJ:MIN") and, for a partition, a
// `partition` file. /proc/partitions is the fallback where sysfs is missing.
// Nothing is cached: disks come and go, and a lookup is a few small reads.
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { UsageError } from '../errors.js';

/** The kernel's MINORBITS: dev_t = major << 20 | minor. */
export const KERNEL_MINOR_BITS = 20;

export interface DeviceNumber {
  major: number;
  minor: number;
}

export interface BlockDevice extends DeviceNumber {
  /** The name under /dev (vda, nvme0n1, sda1, mapper-less dm-0...). */
  name: string;
  /** True for a partition (vda1); false for a whole disk. */
  partition: boolean;
  /** The whole disk's name: `name` itself for a disk, its parent for a partition. */
  disk: string;
}

/** { major, minor } as the kernel's dev_t (major << 20 | minor). */
export function kernelDev(d: DeviceNumber): number {
  return ((d.major << KERNEL_MINOR_BITS) | d.minor) >>> 0;
}

/** The kernel's dev_t (major << 20 | minor) as { major, minor }. */
export function fromKernelDev(dev: number): DeviceNumber {
  return { major: dev >>> KERNEL_MINOR_BITS, minor: dev & ((1 << KERNEL_MINOR_BITS) - 1) };
}

/** "MAJ:MIN" text (sysfs `dev` files, lsblk) as { major, minor }; undefined if malformed. */
export function parseDeviceNumber(text: string): DeviceNumber | undefined {
  const m = /^(\d+):(\d+)$/.exec(text.trim());
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : undefined;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** The rows of /proc/partitions (devices of size 0, e.g. unused loops, are not listed there). */
function procPartitions(): Array<DeviceNumber & { name: string }> {
  const text = readText('/proc/partitions') ?? '';
  const rows: Array<DeviceNumber & { name: string }> = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length === 4 && /^\d+$/.test(f[0]!) && /^\d+$/.test(f[1]!)) {
      rows.push({ major: Number(f[0]), minor: Number(f[1]), name: f[3]! });
    }
  }
  return rows;
}

/**
 * The name of block device MAJ:MIN as it appears under /dev (vda, nvme0n1,
 * vda1), or undefined when no such device exists now.
 */
export function blockDeviceName(d: DeviceNumber): string | undefined {
  const dir = `/sys/dev/block/${d.major}:${d.minor}`;
  const devname = readText(`${dir}/uevent`)?.match(/^DEVNAME=(.+)$/m)?.[1];
  if (devname) return devname;
  try {
    // sysfs writes a "/" in a disk name as "!" (cciss!c0d0).
    return basename(readlinkSync(dir)).replace(/!/g, '/');
  } catch {
    // no sysfs entry: fall through
  }
  return procPartitions().find((p) => p.major === d.major && p.minor === d.minor)?.name;
}

/**
 * The name of the device a kernel dev_t (major << 20 | minor, what a BPF
 * program computes from a request's disk) stands for: its name under /dev,
 * "MAJ:MIN" when no such device exists now, "<unknown>" for 0 (no disk).
 */
export function kernelDevName(dev: number): string {
  if (dev === 0) return '<unknown>';
  const d = fromKernelDev(dev);
  return blockDeviceName(d) ?? `${d.major}:${d.minor}`;
}

/** A disk as the block tools report it: its name under /dev and its numbers. */
export interface Disk extends DeviceNumber {
  /** Name under /dev (vda, nvme0n1); "MAJ:MIN" if the device is gone, "<unknown>" for none. */
  name: string;
}

/** The disk a kernel dev_t from a request stands for (kernelDevName() with its numbers). */
export function diskOf(dev: number): Disk {
  return { name: kernelDevName(dev), ...fromKernelDev(dev) };
}

/**
 * Looks a block device up by name ("vda", "/dev/vda", "nvme0n1p2").
 * Returns undefined when there is no such device (a name with path
 * separators other than a leading /dev/ never matches).
 */
export function findBlockDevice(name: string): BlockDevice | undefined {
  const n = name.startsWith('/dev/') ? name.slice(5) : name;
  if (n === '' || n === '.' || n === '..' || n.includes('\0')) return undefined;
  // sysfs names use "!" for "/" (cciss/c0d0 -> cciss!c0d0).
  const sysName = n.replace(/\//g, '!');
  const dir = `/sys/class/block/${sysName}`;
  const num = parseDeviceNumber(readText(`${dir}/dev`) ?? '');
  if (num) {
    const partition = existsSync(`${dir}/partition`);
    let disk = n;
    if (partition) {
      try {
        // /sys/class/block/vda1 -> ../../devices/.../block/vda/vda1: the parent is the disk.
        disk = basename(readlinkSync(dir).replace(/\/[^/]+$/, '')).replace(/!/g, '/');
      } catch {
        disk = n;
      }
    }
    return { name: n, ...num, partition, disk };
  }
  if (existsSync('/sys/class/block')) return undefined;
  // No sysfs: /proc/partitions knows names and numbers, not partitions.
  const row = procPartitions().find((p) => p.name === n);
  return row ? { ...row, partition: false, disk: row.name } : undefined;
}

/** Every block device the kernel has now (disks and partitions), by name. */
export function listBlockDevices(): BlockDevice[] {
  let names: string[];
  try {
    names = readdirSync('/sys/class/block');
  } catch {
    return procPartitions().map((p) => ({ ...p, partition: false, disk: p.name }));
  }
  const out: BlockDevice[] = [];
  for (const s of names.sort()) {
    const d = findBlockDevice(s.replace(/!/g, '/'));
    if (d) out.push(d);
  }
  return out;
}

/**
 * A tool's "-d DISK" (biolatency, biosnoop): the whole disk `name` names, as
 * the kernel's dev_t (what a BPF program computes from a request). Throws a
 * UsageError when there is no such device, or when it is a partition: block
 * requests carry the whole disk.
 */
export function resolveWholeDisk(name: string): number {
  const dev = findBlockDevice(name);
  if (!dev) throw new UsageError(`no such disk '${name}'`);
  if (dev.partition) {
    throw new UsageError(`'${name}' is a partition of ${dev.disk}; block requests are counted per disk: use -d ${dev.disk}`);
  }
  return kernelDev(dev);
}
