// How exitsnoop prints an event: BCC's columns, or one JSON object per line.
import { existsSync, readFileSync } from 'node:fs';
import { cell, escapeControl, fmtFixed, pad } from '@ebpf/core/format';
import { eventJson, type BatchClock } from '@ebpf/core/kit';
import type { FlagsOf } from '@ebpf/core/kit';
import { signalShortName } from '@ebpf/core/signals';
import type { flags } from './cli.js';
import type { ExitEvent } from './index.js';

/** The CLI flags that shape output (--utc implies -t). */
export type Flags = FlagsOf<typeof flags>;

// ---------------------------------------------------------------------------
// The time zone's name, as BCC's header shows it (Python's strftime("%Z"),
// which is the C library's tzname: "UTC", "CET", "EST", "-03").

const ZONEINFO = '/usr/share/zoneinfo';

/** The POSIX TZ rule the C library applies: TZ itself, or the footer of the zone file. */
function posixRule(tz: string | undefined): string | undefined {
  const footer = (file: string): string | undefined => {
    try {
      const b = readFileSync(file);
      if (b.subarray(0, 4).toString('latin1') !== 'TZif') return undefined;
      // TZif version 2+ ends with "\n<POSIX TZ string>\n".
      const text = b.subarray(Math.max(0, b.length - 256)).toString('latin1');
      const m = /\n([^\n]*)\n$/.exec(text);
      return m && m[1] ? m[1] : undefined;
    } catch {
      return undefined;
    }
  };
  if (tz === undefined) return footer('/etc/localtime') ?? 'UTC0';
  if (tz === '') return 'UTC0'; // glibc: an empty TZ is UTC
  const name = tz.startsWith(':') ? tz.slice(1) : tz;
  const file = name.startsWith('/') ? name : `${ZONEINFO}/${name}`;
  if (!name.includes('..') && existsSync(file)) return footer(file);
  return tz.startsWith(':') ? 'UTC0' : tz;
}

/** Parses "STDoffset[DST[offset][,rule]]": names and the standard offset (seconds west of UTC). */
function parseRule(rule: string): { std: string; dst?: string; stdWest: number } | undefined {
  const m = /^(<[^>]*>|[A-Za-z]{3,})([+-]?\d{1,2}(?::\d{1,2}){0,2})?(<[^>]*>|[A-Za-z]{3,})?/.exec(rule);
  if (!m) return undefined;
  const unquote = (s: string) => (s.startsWith('<') ? s.slice(1, -1) : s);
  let stdWest = 0;
  if (m[2]) {
    const sign = m[2].startsWith('-') ? -1 : 1;
    const [h = 0, min = 0, s = 0] = m[2].replace(/^[+-]/, '').split(':').map(Number);
    stdWest = sign * (h * 3600 + min * 60 + s);
  }
  return { std: unquote(m[1]!), dst: m[3] ? unquote(m[3]) : undefined, stdWest };
}

/** The local time zone's abbreviation now, as strftime("%Z") gives it. */
export function zoneName(date: Date = new Date(), tz: string | undefined = process.env.TZ): string {
  const rule = posixRule(tz);
  const parsed = rule ? parseRule(rule) : undefined;
  if (parsed) {
    // Daylight time is in effect when the offset differs from the standard one.
    const west = date.getTimezoneOffset() * 60;
    return parsed.dst && west !== parsed.stdWest ? parsed.dst : parsed.std;
  }
  const part = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(date).find((p) => p.type === 'timeZoneName');
  return part?.value ?? 'UTC';
}

// ---------------------------------------------------------------------------
// Columns

/** The header line, built column by column as BCC does (without its trailing space). */
export function header(f: Flags, date: Date = new Date()): string {
  let h = '';
  if (f.timestamp || f.utc) h += pad(`TIME-${f.utc ? 'UTC' : zoneName(date)}`, 13);
  if (f.label !== undefined) h += pad('LABEL', 6);
  return `${h}${pad('PCOMM', 16)} ${pad('PID', 7)} ${pad('PPID', 7)} ${pad('TID', 7)} ${pad('AGE(s)', 7)} EXIT_CODE`;
}

const two = (n: number): string => (n < 10 ? `0${n}` : String(n));
const three = (n: number): string => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : String(n));

/** HH:MM:SS.mmm, local or UTC (BCC: strftime("%H:%M:%S.%f")[:-3]). */
export function clock(date: Date, utc = false): string {
  return utc
    ? `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())}.${three(date.getUTCMilliseconds())}`
    : `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}.${three(date.getMilliseconds())}`;
}

/** BCC's EXIT_CODE column: "0", "code N", "signal N (NAME)" and ", core dumped". */
export function exitReason(ev: Pick<ExitEvent, 'exitCode' | 'signal' | 'coreDumped'>): string {
  if (ev.signal === null) return ev.exitCode ? `code ${ev.exitCode}` : '0';
  const text = ev.signal ? `signal ${ev.signal} (${signalShortName(ev.signal) ?? 'unknown'})` : '';
  return ev.coreDumped ? `${text}, core dumped` : text;
}

/** The label BCC prints: the given text, or "exit" for an empty one. */
export function labelText(label: string): string {
  return label.length ? label : 'exit';
}

/** A row; `wall` gives an event timestamp's wall-clock time (the exit's own, not the printing's). */
export function formatRow(ev: ExitEvent, f: Flags, wall: (ts: bigint) => Date): string {
  let row = '';
  if (f.timestamp || f.utc) row += cell(clock(wall(ev.timestamp), f.utc), 13);
  if (f.label !== undefined) row += cell(escapeControl(labelText(f.label)), 6);
  return (
    `${row}${pad(escapeControl(ev.comm), 16)} ${pad(String(ev.pid), 7)} ${pad(String(ev.ppid), 7)} ` +
    `${pad(String(ev.tid), 7)} ${pad(fmtFixed(ev.ageSeconds, 2), 7)} ${exitReason(ev)}\n`
  );
}

/** The --json object: the API event by the kit's convention (time, elapsed first), and `label` with --label. */
export function jsonObject(ev: ExitEvent, f: Flags, clock: BatchClock): object {
  return eventJson(ev, clock, f.label !== undefined ? { label: labelText(f.label) } : undefined);
}
