// The life of a tracer as every event tool's API promises it, checked the
// same way in each tool's tests. (Not a test file.)
import { expect } from 'vitest';
import { bpfFdTargets, bpfLinks } from './bpf.js';
import { iterate } from './events.js';

/** What expectCleanLife() needs of a tracer: @ebpf/core's Tracer has it. */
interface Closable<E> extends AsyncIterable<E> {
  readonly closed: boolean;
  close(): void;
}

/**
 * Starts a tracer (its programs attached: `links` BPF links), reads it with a
 * for-await loop, runs `workload`, and closes it at once (no waiting). Then:
 * close() is idempotent, the loop ends after delivering what was already in
 * the ring, and every BPF fd the tracer held is freed. Returns the tracer,
 * what the loop saw and what the workload returned, for the tool's own checks.
 */
export async function expectCleanLife<E, T extends Closable<E>, R>(start: () => T, links: number, workload: () => Promise<R>): Promise<{ tracer: T; seen: E[]; result: R }> {
  const before = bpfFdTargets();
  const tracer = start();
  expect(bpfLinks()).toBe(links);
  const { seen, ended } = iterate(tracer);
  const result = await workload();
  tracer.close(); // no waiting: what is in the ring must still be delivered
  expect(tracer.closed).toBe(true);
  expect(() => tracer.close()).not.toThrow();
  expect(await ended()).toBe(true);
  expect(bpfFdTargets()).toEqual(before);
  return { tracer, seen, result };
}
