// How opensnoop prints an event: BCC's columns, or one JSON object per line.
import { escapeControl, fmtFixed, jsonLine, pad, padStart } from '@ebpf/core/format';
import type { OpenEvent } from './index.js';

/** The CLI flags that shape output. */
export interface Flags {
  timestamp?: boolean;
  printUid?: boolean;
  tid?: number;
  extendedFields?: boolean;
  fullPath?: boolean;
  json?: boolean;
}

/** The header line, built column by column as BCC does. */
export function header(f: Flags): string {
  let h = '';
  if (f.timestamp) h += pad('TIME(s)', 14);
  if (f.printUid) h += pad('UID', 6);
  h += `${pad(f.tid !== undefined ? 'TID' : 'PID', 6)} ${pad('COMM', 16)} ${padStart('FD', 4)} ${padStart('ERR', 3)} `;
  if (f.extendedFields) h += pad('FLAGS', 9);
  return `${h}PATH`;
}

/** "%08o" */
function octal8(n: number): string {
  const s = n.toString(8);
  return s.length >= 8 ? s : '00000000'.slice(s.length) + s;
}

/** What rows share across a run: the first event's timestamp, TIME(s) zero. */
export interface RowState {
  first?: bigint;
}

/**
 * Formats rows as BCC's "%-14.9f" "%-6d" "%-6d %-16s %4d %3d " "%08o " "%s".
 * TIME(s) counts from the first event printed (BCC: the first received;
 * ours are all printed, the filters run in the kernel).
 */
export function rowFormatter(f: Flags, state: RowState = {}): (ev: OpenEvent) => string {
  const { timestamp, printUid, extendedFields, fullPath } = f;
  const byTid = f.tid !== undefined;
  return (ev) => {
    let row = '';
    if (timestamp) {
      if (state.first === undefined) state.first = ev.timestamp;
      row += pad(fmtFixed(Number(ev.timestamp - state.first) / 1e9, 9), 14);
    }
    if (printUid) row += pad(String(ev.uid), 6);
    row += pad(String(byTid ? ev.tid : ev.pid), 6) + ' ' + pad(escapeControl(ev.comm), 16) + ' ' +
      padStart(String(ev.fd), 4) + ' ' + padStart(String(ev.errno), 3) + ' ';
    if (extendedFields) row += octal8(ev.flags) + ' ';
    let path = fullPath && ev.fullPath !== undefined ? ev.fullPath : ev.path;
    if (ev.truncated) path += '...';
    return row + escapeControl(path) + '\n';
  };
}

/** One JSON object per event; timestamp in seconds since `startNs`. */
export function formatJson(ev: OpenEvent, startNs: bigint): string {
  const obj: Record<string, unknown> = {
    time: new Date().toISOString(),
    timestamp: Number(ev.timestamp - startNs) / 1e9,
    pid: ev.pid,
    tid: ev.tid,
    uid: ev.uid,
    comm: ev.comm,
    syscall: ev.syscall,
    fd: ev.fd,
    err: ev.errno,
    flags: ev.flags,
    mode: ev.mode,
    dirfd: ev.dirfd,
    path: ev.path,
    truncated: ev.truncated,
  };
  if (ev.fullPath !== undefined) obj.fullPath = ev.fullPath;
  return jsonLine(obj);
}
