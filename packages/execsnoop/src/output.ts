// How execsnoop prints an event: BCC's columns, or one JSON object per line.
import { cell, escapeControl, fmtFixed, hhmmss, pad, padStart } from '@ebpf/core/format';
import type { BatchClock, FlagsOf } from '@ebpf/core/kit';
import type { flags } from './cli.js';
import type { ExecEvent } from './index.js';

/** The CLI flags that shape output. */
export type Flags = FlagsOf<typeof flags>;

/** The header line, built column by column as BCC does. */
export function header(f: Flags): string {
  let h = '';
  if (f.time) h += pad('TIME', 9);
  if (f.timestamp) h += pad('TIME(s)', 8);
  if (f.printUid) h += pad('UID', 6);
  return `${h}${pad('PCOMM', 16)} ${pad('PID', 7)} ${pad('PPID', 7)} ${padStart('RET', 3)} ARGS`;
}

/** ARGS as BCC prints it: at most --max-args fields, then "..."; quoted with -q. */
export function formatArgs(ev: ExecEvent, f: Pick<Flags, 'maxArgs' | 'quote'>): string {
  const maxArgs = f.maxArgs ?? 20;
  let fields = [ev.filename, ...ev.args];
  let more = ev.truncated;
  if (fields.length > maxArgs) {
    fields = fields.slice(0, maxArgs);
    more = true;
  }
  if (more) fields.push('...');
  // Each field escaped first: the \" of -q is the only backslash not doubled.
  fields = fields.map(escapeControl);
  if (f.quote) fields = fields.map((a) => `"${a.replace(/"/g, '\\"')}"`);
  return fields.join(' ');
}

export function formatRow(ev: ExecEvent, f: Flags, clock: BatchClock): string {
  let row = '';
  if (f.time) row += cell(hhmmss(clock.now()), 9);
  if (f.timestamp) row += cell(fmtFixed(clock.since(ev.timestamp), 3), 8);
  if (f.printUid) row += cell(String(ev.uid), 6);
  return `${row}${pad(escapeControl(ev.comm), 16)} ${pad(String(ev.pid), 7)} ${pad(String(ev.ppid), 7)} ${padStart(String(ev.retval), 3)} ${formatArgs(ev, f)}\n`;
}

