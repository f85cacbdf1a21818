// The kit's container filters on runqlat, where the task is not the current
// one: a wakeup runs in the waker, so the filter reads the woken task's own
// cgroup and mount namespace (ebpf_task_container_allowed). The workload's
// threads in the test's cgroup are counted exactly; the same workload
// outside is not counted at all.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runqlat, type RunqlatOptions } from '../src/index.js';
import { Rqwork, buildRqwork, switches } from './helpers.js';
import { containers, type Containers } from '../../../test/support/container.js';

let bin: string;
let c: Containers;
beforeAll(() => {
  bin = buildRqwork();
  c = containers();
});
afterAll(async () => {
  await Rqwork.stopAll();
  await c?.cleanup();
});

describe('container filters', () => {
  for (const how of ['cgroup', 'cgroupmap'] as const) {
    it(`${how}: the waits of threads in the cgroup, exactly; none of the same work outside`, async () => {
      const opts: RunqlatOptions = how === 'cgroup' ? { cgroup: c.cgroup } : { cgroupmap: c.pinMap([c.cgroupId]) };
      const rq = runqlat({ ...opts, perThread: true });
      try {
        const inside = await Rqwork.start(bin, c.cgroupWrap());
        const outside = await Rqwork.start(bin);
        const tids = await inside.pingpong(500);
        const others = await outside.pingpong(500);
        const expected = tids.map((t) => switches(inside.pid, t));
        const s = rq.close()!;
        for (const [i, t] of tids.entries()) {
          const h = s.histograms.find((x) => x.tid === t);
          expect(h, `tid ${t}`).toBeDefined();
          expect(h!.count).toBeLessThanOrEqual(expected[i]!);
          expect(h!.count).toBeGreaterThanOrEqual(expected[i]! - rq.lost());
        }
        // Only the inside process's threads (its main thread may have waited once in the cgroup too).
        for (const h of s.histograms) expect([...tids, inside.pid]).toContain(h.tid);
        for (const t of [...others, outside.pid]) expect(s.histograms.find((x) => x.tid === t)).toBeUndefined();
      } finally {
        rq.stop();
        await Rqwork.stopAll();
      }
    });
  }
});
