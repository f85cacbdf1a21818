// Temporary directories that go away, and names nothing else on the machine
// uses. (Not a test file.)
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TempDir {
  dir: string;
  /** Removes the directory and everything in it (idempotent). */
  cleanup(): void;
}

const left = new Set<string>();
let hooked = false;

/**
 * A new directory under `base` (default: the system's temp dir), world-
 * readable (workloads may run as nobody). Removed by cleanup(), or at the
 * latest when the test process exits.
 */
export function tempDir(prefix = 'ebpf-test-', base = tmpdir()): TempDir {
  const dir = mkdtempSync(join(base, prefix));
  chmodSync(dir, 0o755);
  left.add(dir);
  if (!hooked) {
    hooked = true;
    process.once('exit', () => {
      for (const d of left) rmSync(d, { recursive: true, force: true });
    });
  }
  return {
    dir,
    cleanup: () => {
      rmSync(dir, { recursive: true, force: true });
      left.delete(dir);
    },
  };
}

/** A string no other process on the machine will use: `tag-PID-random`. */
export const uniq = (tag = 'm'): string => `${tag}-${process.pid}-${randomBytes(6).toString('hex')}`;
