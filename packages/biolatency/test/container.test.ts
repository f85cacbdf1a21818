// The kit's container filters on a histogram tool: --cgroupmap and
// --mntnsmap count exactly the I/O of the workload run in the test's cgroup
// or mount namespace, and none of the same I/O made outside. (-c/--cgroup:
// api.test.ts.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { biolatency } from '../src/index.js';
import { dio, workload, type Workload } from './helpers.js';
import { containers, type Containers } from '../../../test/support/container.js';

const READS = 200;

let w: Workload;
let c: Containers;
beforeAll(() => {
  w = workload();
  c = containers();
});
afterAll(async () => {
  await c?.cleanup();
  w?.cleanup();
});

describe('container filters', () => {
  it('--cgroupmap: the I/O of tasks whose cgroup id is in the pinned map, exactly', async () => {
    const bio = biolatency({ cgroupmap: c.pinMap([c.cgroupId]) });
    try {
      expect(await dio(w, 'read', READS)).toBe(READS); // outside
      expect(bio.snapshot().count).toBe(0);
      expect(await dio(w, 'read', READS, c.cgroup)).toBe(READS);
      expect(bio.snapshot().count).toBe(READS);
    } finally {
      bio.close();
    }
  });

  it('--mntnsmap: the I/O of tasks in the mount namespaces in the pinned map, exactly', async () => {
    const run = await c.inMountNs(w.dio, [w.file, 'read', String(READS)]);
    const bio = biolatency({ mntnsmap: c.pinMap([run.mntns]) });
    try {
      expect(await dio(w, 'read', READS)).toBe(READS); // outside
      expect(bio.snapshot().count).toBe(0);
      const r = await run.go();
      expect([r.code, Number(r.stdout.trim())]).toEqual([0, READS]);
      expect(bio.snapshot().count).toBe(READS);
    } finally {
      bio.close();
    }
  });
});
