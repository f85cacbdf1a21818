// Test support shared by the packages' tests: collect a tracer's events and
// wait for the ones a test is after. (Not a test file: vitest collects *.test.ts.)
import { DEADLINE, sleep } from './wait.js';

/** What collect() needs of a tracer: @ebpf/core's Tracer has it. */
interface EventSource<E> {
  subscribe(listener: (events: E[]) => void): unknown;
  flush(): void;
  close(): void;
}

export interface Capture<E, T extends EventSource<E> = EventSource<E>> {
  tracer: T;
  /** Every event delivered so far, in order. */
  events: E[];
  /** Resolves once `n` events match `pred` (flushing the ring as it polls); rejects after `ms` (default DEADLINE.output). */
  waitForCount(pred: (e: E) => boolean, n: number, ms?: number): Promise<E[]>;
  /** The first event matching `pred`. */
  waitFor(pred: (e: E) => boolean, ms?: number): Promise<E>;
  /** Every event matching `pred` once what is in flight has been delivered. */
  settled(pred: (e: E) => boolean): Promise<E[]>;
  close(): void;
}

export function collect<E, T extends EventSource<E>>(tracer: T): Capture<E, T> {
  const events: E[] = [];
  tracer.subscribe((batch) => {
    for (const e of batch) events.push(e);
  });
  const waitForCount = async (pred: (e: E) => boolean, n: number, ms: number = DEADLINE.output): Promise<E[]> => {
    const deadline = Date.now() + ms;
    for (;;) {
      tracer.flush();
      const found = events.filter(pred);
      if (found.length >= n) return found;
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${n} events (have ${found.length} of ${events.length} seen)`);
      }
      await sleep(20);
    }
  };
  return {
    tracer,
    events,
    waitForCount,
    waitFor: async (pred, ms) => (await waitForCount(pred, 1, ms))[0]!,
    settled: async (pred) => {
      // A record may still be being written on another CPU (microseconds):
      // flush a few times before reading what arrived.
      for (let i = 0; i < 3; i++) {
        await sleep(30);
        tracer.flush();
      }
      return events.filter(pred);
    },
    close: () => tracer.close(),
  };
}

export interface Iteration<E> {
  /** What the loop has received so far. */
  seen: E[];
  /** Whether the loop has ended (the iterator said done) within `ms`. */
  ended(ms?: number): Promise<boolean>;
}

/** Runs `for await (const e of source)` in the background, collecting what it yields. */
export function iterate<E>(source: AsyncIterable<E>): Iteration<E> {
  const seen: E[] = [];
  const loop = (async () => {
    for await (const e of source) seen.push(e);
  })();
  return {
    seen,
    ended: (ms = DEADLINE.output) => Promise.race([loop.then(() => true), sleep(ms).then(() => false)]),
  };
}
