// Per-file setup that tests share.
import { beforeAll } from 'vitest';

/**
 * A test file's workloads, built once before its first test (vitest's
 * beforeAll, so a compile error fails the file's tests, not its import):
 *
 *   const bins = builtBeforeAll(buildBins);
 *
 * The object is filled in place, so it can be a module-level const that the
 * tests read once they run.
 */
export function builtBeforeAll<T extends object>(build: () => T): T {
  const built = {} as T;
  beforeAll(() => {
    Object.assign(built, build());
  });
  return built;
}
