// One JSON convention for every tool (core README, "JSON"): what `--json`
// prints and what `JSON.stringify()` makes of the typed API's events and
// snapshots are the same values under the same (camelCase) names:
//
//   bigint      a decimal string, always ("18446744073709551615"): exact, and
//               a field's JSON type never depends on its value; BigInt(s)
//               gives the value back
//   Uint8Array  lowercase hex
//   Date        ISO 8601 (UTC)
//   Map / Set   an object (keys as strings) / an array
//   a string holding bytes that were not UTF-8 (lone U+DCNN, see decode.ts)
//               valid Unicode (U+FFFD for each such byte) plus a sibling
//               `<key>_bytes`: the exact bytes in base64 (for an array of
//               strings, an array of the same length, null where valid)
//   undefined, functions: left out (as JSON.stringify does)
import { hasRawBytes, rawBytes } from './decode.js';

// U+DC80..U+DCFF, lone or not: a cheap first test before hasRawBytes().
const LOW_SURROGATE = /[\udc80-\udcff]/;
const REPLACEMENT = /(?<![\ud800-\udbff])[\udc80-\udcff]/g;

const hasRaw = (s: string): boolean => LOW_SURROGATE.test(s) && hasRawBytes(s);
const clean = (s: string): string => s.replace(REPLACEMENT, '\ufffd');
const base64 = (s: string): string => rawBytes(s).toString('base64');

/** The toJSON of events and snapshots (jsonEvent()): their own fields by the convention above. */
function eventToJSON(this: object): unknown {
  return objectValue(this);
}

// The prototype jsonEvent() gives: Object.prototype plus a toJSON that is not
// enumerable, so spreading, Object.keys and for..in see only the fields.
const JSON_EVENT: object = Object.create(Object.prototype, {
  toJSON: { value: eventToJSON, writable: true, configurable: true, enumerable: false },
});

/**
 * Makes a plain object (a typed API's event or snapshot) serialize with plain
 * `JSON.stringify()` by the convention (bigints as decimal strings, never a
 * throw). Returns the same object. Objects with a prototype of their own
 * (class instances) are left as they are.
 */
export function jsonEvent<T>(obj: T): T {
  if (obj !== null && typeof obj === 'object' && Object.getPrototypeOf(obj) === Object.prototype) Object.setPrototypeOf(obj, JSON_EVENT);
  return obj;
}

/** True when `obj` went through jsonEvent(). */
export function isJsonEvent(obj: unknown): boolean {
  return obj !== null && typeof obj === 'object' && Object.getPrototypeOf(obj) === JSON_EVENT;
}

function objectValue(obj: object): Record<string, unknown> {
  return jsonFields(obj, {});
}

/**
 * Writes `obj`'s own fields, as JSON carries them (jsonValue), into `out`
 * after what it holds; returns `out`. (Cheaper than spreading jsonValue(obj)
 * into another object.)
 */
export function jsonFields<T extends Record<string, unknown>>(obj: object, out: T): T & Record<string, unknown> {
  const o = out as Record<string, unknown>;
  for (const k of Object.keys(obj)) {
    const v = (obj as Record<string, unknown>)[k];
    if (typeof v === 'string') {
      if (hasRaw(v)) {
        o[k] = clean(v);
        o[`${k}_bytes`] = base64(v);
      } else o[k] = v;
    } else if (Array.isArray(v) && v.some((e) => typeof e === 'string' && hasRaw(e))) {
      o[k] = v.map((e) => (typeof e === 'string' ? clean(e) : (jsonValue(e) ?? null)));
      o[`${k}_bytes`] = v.map((e) => (typeof e === 'string' && hasRaw(e) ? base64(e) : null));
    } else {
      const j = jsonValue(v);
      if (j !== undefined) o[k] = j;
    }
  }
  return out as T & Record<string, unknown>;
}

/**
 * A value as JSON carries it (the convention above): plain data that
 * JSON.stringify() writes without a replacer and without throwing.
 */
export function jsonValue(v: unknown): unknown {
  switch (typeof v) {
    case 'bigint':
      return v.toString();
    case 'string':
      return hasRaw(v) ? clean(v) : v; // no sibling to carry the bytes here
    case 'object':
      break;
    case 'function':
    case 'symbol':
      return undefined;
    default:
      return v;
  }
  if (v === null) return null;
  if (Array.isArray(v)) return v.map((e) => jsonValue(e) ?? null);
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  if (v instanceof Map) return objectValue(Object.fromEntries([...v].map(([k, x]) => [String(k), x])));
  if (v instanceof Set) return [...v].map((e) => jsonValue(e) ?? null);
  const toJSON = (v as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function' && toJSON !== eventToJSON) return jsonValue(toJSON.call(v));
  return objectValue(v);
}

/** One JSON line: jsonValue(obj) and "\n". */
export function jsonLine(obj: unknown): string {
  return JSON.stringify(jsonValue(obj)) + '\n';
}
