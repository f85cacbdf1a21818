// Block device names and numbers, checked against what this machine's sysfs,
// /proc/partitions and the device nodes say.
import { describe, expect, it } from 'vitest';
import { readFileSync, statSync } from 'node:fs';
import {
  blockDeviceName,
  findBlockDevice,
  fromKernelDev,
  kernelDev,
  listBlockDevices,
  parseDeviceNumber,
  resolveWholeDisk,
  kernelDevName,
  UsageError,
} from '../src/index.js';

/** The first whole disk /proc/partitions lists (vda on this machine). */
function someDisk(): { name: string; major: number; minor: number } {
  for (const line of readFileSync('/proc/partitions', 'utf8').split('\n').slice(2)) {
    const f = line.trim().split(/\s+/);
    if (f.length === 4) return { major: Number(f[0]), minor: Number(f[1]), name: f[3]! };
  }
  throw new Error('no block device in /proc/partitions');
}

/** glibc's major()/minor() of an st_rdev. */
function rdev(path: string): { major: number; minor: number } {
  const d = BigInt(statSync(path, { bigint: true }).rdev);
  return {
    major: Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn)),
    minor: Number((d & 0xffn) | ((d >> 12n) & ~0xffn)),
  };
}

describe('block devices', () => {
  it("kernel dev_t: major << 20 | minor, both ways", () => {
    expect(kernelDev({ major: 254, minor: 0 })).toBe(254 * 2 ** 20);
    expect(kernelDev({ major: 259, minor: 3 })).toBe(259 * 2 ** 20 + 3);
    expect(fromKernelDev(kernelDev({ major: 4095, minor: 0xfffff }))).toEqual({ major: 4095, minor: 0xfffff });
    expect(parseDeviceNumber('254:16\n')).toEqual({ major: 254, minor: 16 });
    expect(parseDeviceNumber('nonsense')).toBeUndefined();
  });

  it('finds a disk by name and by /dev path, with the numbers of its device node', () => {
    const d = someDisk();
    const found = findBlockDevice(d.name)!;
    expect(found).toEqual({ name: d.name, major: d.major, minor: d.minor, partition: false, disk: d.name });
    expect(findBlockDevice(`/dev/${d.name}`)).toEqual(found);
    expect(rdev(`/dev/${d.name}`)).toEqual({ major: d.major, minor: d.minor });
    expect(blockDeviceName(d)).toBe(d.name);
    expect(kernelDevName(kernelDev(d))).toBe(d.name);
    expect(kernelDevName(kernelDev({ major: 4095, minor: 0xffff }))).toBe('4095:65535');
    expect(kernelDevName(0)).toBe('<unknown>');
  });

  it('unknown names and numbers, and names that try to leave /sys/class/block', () => {
    expect(findBlockDevice('nosuchdisk')).toBeUndefined();
    expect(findBlockDevice('')).toBeUndefined();
    expect(findBlockDevice('..')).toBeUndefined();
    expect(findBlockDevice('../../../etc/passwd')).toBeUndefined();
    expect(blockDeviceName({ major: 4095, minor: 0xffff })).toBeUndefined();
  });

  it('lists every device, partitions pointing at their disk', () => {
    const all = listBlockDevices();
    const d = someDisk();
    expect(all.find((x) => x.name === d.name)).toMatchObject({ major: d.major, minor: d.minor, partition: false });
    for (const x of all) {
      expect(blockDeviceName(x)).toBe(x.name);
      if (x.partition) {
        const disk = all.find((y) => y.name === x.disk)!;
        expect(disk.partition).toBe(false);
        expect(disk.major).toBe(x.major);
      } else {
        expect(x.disk).toBe(x.name);
      }
    }
  });

  it('resolveWholeDisk (-d): a disk as the kernel dev_t; a missing disk or a partition is a UsageError', () => {
    const d = someDisk();
    expect(resolveWholeDisk(d.name)).toBe(kernelDev(d));
    expect(resolveWholeDisk(`/dev/${d.name}`)).toBe(kernelDev(d));
    expect(() => resolveWholeDisk('nosuchdisk')).toThrow(new UsageError("no such disk 'nosuchdisk'"));
    expect(() => resolveWholeDisk('../../etc')).toThrow(UsageError);
    const part = listBlockDevices().find((x) => x.partition);
    if (part) {
      expect(() => resolveWholeDisk(part.name)).toThrow(
        new UsageError(`'${part.name}' is a partition of ${part.disk}; block requests are counted per disk: use -d ${part.disk}`),
      );
    }
  });
});
