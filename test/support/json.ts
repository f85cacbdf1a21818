// The JSON convention every tool's --json follows (core README, "JSON"):
// checks of one parsed line. (Not a test file.)
import { expect } from 'vitest';

/** camelCase, or a `<camelCase>_bytes` sibling (raw bytes of a string). */
export const CAMEL = /^[a-z][a-zA-Z0-9]*(_bytes)?$/;

/** Every key, at any depth, of a parsed JSON value. */
export function jsonKeys(v: unknown, out: string[] = []): string[] {
  if (Array.isArray(v)) for (const e of v) jsonKeys(e, out);
  else if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      out.push(k);
      jsonKeys(x, out);
    }
  }
  return out;
}

/**
 * One --json line by the convention: `time` (ISO 8601 UTC string) and
 * `elapsed` (seconds since the start, a number) first, every key camelCase
 * (keys of `keyed` objects, whose keys are data, aside), a `timestamp` a
 * decimal string. Returns the parsed object.
 */
export function expectJsonLine(line: string, opts: { keyed?: string[] } = {}): Record<string, unknown> {
  const o = JSON.parse(line) as Record<string, unknown>;
  expect(Object.keys(o).slice(0, 2), line).toEqual(['time', 'elapsed']);
  expect(typeof o.time, line).toBe('string');
  expect(o.time as string, line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  expect(new Date(o.time as string).toISOString()).toBe(o.time);
  expect(typeof o.elapsed, line).toBe('number');
  expect(o.elapsed as number, line).toBeGreaterThanOrEqual(0);
  if ('timestamp' in o) expect(o.timestamp as string, line).toMatch(/^\d+$/);
  const data = new Set(opts.keyed ?? []);
  const stripped = Object.fromEntries(Object.entries(o).filter(([k]) => !data.has(k)));
  for (const k of jsonKeys(stripped)) expect(k, line).toMatch(CAMEL);
  return o;
}

/**
 * One --json line of an event tool: the convention (expectJsonLine), and
 * besides `time`, `elapsed` and `timestamp` (checked there), exactly
 * `fields` (asymmetric matchers such as expect.any(Number) welcome).
 * Returns the parsed object.
 */
export function expectJsonEvent(line: string, fields: Record<string, unknown>): Record<string, any> {
  const o = expectJsonLine(line);
  expect(o, line).toEqual({ time: o.time, elapsed: o.elapsed, timestamp: o.timestamp, ...fields });
  return o;
}
