// Waiting in tests: on a condition, with a generous deadline, never on a
// guessed delay. The suite runs on loaded two-core machines, where a start-up
// that takes 50 ms alone can take seconds. (Not a test file: vitest collects
// *.test.ts only.)

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Default deadlines (ms): long enough for a loaded machine, short of vitest's 30 s test timeout. */
export const DEADLINE = {
  /** a CLI or a workload getting ready (BPF load and attach, a JVM start) */
  start: 20_000,
  /** output, a line or an event that the test has just caused */
  output: 15_000,
} as const;

/**
 * Polls `cond` every `stepMs` until it holds or `timeoutMs` passes; returns
 * whether it held (for `expect(await waitFor(...)).toBe(true)`).
 */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  timeoutMs: number = DEADLINE.output,
  stepMs = 5,
): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() > end) return false;
    await sleep(stepMs);
  }
}

/**
 * Polls `cond` until it holds; throws after `timeoutMs`, saying what was
 * awaited (`what` may be a function, for details known only at that time).
 */
export async function until(
  cond: () => boolean | Promise<boolean>,
  what: string | (() => string),
  timeoutMs: number = DEADLINE.output,
  stepMs = 20,
): Promise<void> {
  if (!(await waitFor(cond, timeoutMs, stepMs))) {
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}`);
  }
}

/** The error `fn` throws (fails the test when it does not throw). */
export function thrown(fn: () => unknown): Error & { code?: string; kind?: string; log?: string } {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error(`expected ${fn.toString()} to throw`);
}
