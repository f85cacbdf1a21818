// How opensnoop prints an event: BCC's columns, or one JSON object per line.
// Rows come two ways, byte for byte the same: rowFormatter() from an
// OpenEvent, and fastRow() straight from the ring record (an open() storm
// brings hundreds of thousands a second). The fast one copies comm and path
// as they are when they are printable ASCII (nearly always) and hands any
// other record to rowFormatter(), so escaping and decoding live in one place.
import { escapeControl, fmtFixed, pad, padStart } from '@ebpf/core/format';
import { printable, type BatchClock, type FastRow, type FlagsOf } from '@ebpf/core/kit';
import type { flags } from './cli.js';
import type { OpenEvent } from './index.js';
import { EV_DIR, EV_DIR_TRUNCATED, EV_PATH_TRUNCATED, EVENT_OFFSETS as O } from './opensnoop.gen.js';

/** The CLI flags that shape output. */
export type Flags = FlagsOf<typeof flags>;

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
  return n.toString(8).padStart(8, '0');
}

/**
 * Formats rows as BCC's "%-14.9f" "%-6d" "%-6d %-16s %4d %3d " "%08o " "%s".
 * TIME(s) counts from the first event printed (BCC: the first received;
 * ours are all printed, the filters run in the kernel).
 */
export function rowFormatter(f: Flags, clock: BatchClock): (ev: OpenEvent) => string {
  const { timestamp, printUid, extendedFields, fullPath } = f;
  const byTid = f.tid !== undefined;
  return (ev) => {
    let row = '';
    if (timestamp) row += pad(fmtFixed(clock.sinceFirst(ev.timestamp), 9), 14);
    if (printUid) row += pad(String(ev.uid), 6);
    row += `${pad(String(byTid ? ev.tid : ev.pid), 6)} ${pad(escapeControl(ev.comm), 16)} ${padStart(String(ev.fd), 4)} ${padStart(String(ev.errno), 3)} `;
    if (extendedFields) row += `${octal8(ev.flags)} `;
    const path = fullPath && ev.fullPath !== undefined ? ev.fullPath : ev.path;
    return `${row}${escapeControl(ev.truncated ? `${path}...` : path)}\n`;
  };
}

const SPACE = 0x20;
const SLASH = 0x2f;
const NL = 0x0a;

/** -F's directory names (NUL-terminated) are all printable ASCII. */
function printableNames(b: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (b[i] !== 0 && !printable(b, i, i + 1)) return false;
  return true;
}

/** rowFormatter()'s rows written from the ring record; false for any byte that is not printable ASCII. */
export function fastRow(f: Flags, clock: BatchClock): FastRow {
  const { timestamp, printUid, extendedFields, fullPath } = f;
  const idAt = f.tid !== undefined ? O.tid : O.pid;
  let view: DataView | undefined;
  let src: Uint8Array = new Uint8Array(0);
  return (v, off, len, out) => {
    if (v !== view) {
      view = v;
      src = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    }
    if (timestamp) out.ascii(fmtFixed(clock.sinceFirst(v.getBigUint64(off + O.ts, true)), 9), 14);
    if (printUid) out.intLeft(v.getUint32(off + O.uid, true), 6);
    out.intLeft(v.getUint32(off + idAt, true), 6);
    out.byte(SPACE);
    if (!out.cstring(v, off + O.comm, 16, 16)) return false;
    out.byte(SPACE);
    const ret = v.getInt32(off + O.ret, true);
    out.intRight(ret >= 0 ? ret : -1, 4);
    out.byte(SPACE);
    out.intRight(ret >= 0 ? 0 : -ret, 3);
    out.byte(SPACE);
    if (extendedFields) {
      if (v.getUint32(off + O.flags + 4, true) === 0) out.octal(v.getUint32(off + O.flags, true), 8);
      else out.ascii(octal8(Number(v.getBigUint64(off + O.flags, true))));
      out.byte(SPACE);
    }
    const pathAt = off + O.data;
    const pathEnd = pathAt + Math.min(v.getUint16(off + O.path_len, true), len - O.data);
    const status = v.getUint8(off + O.status);
    if (fullPath && status & EV_DIR) {
      // the names, innermost first, each NUL-terminated: printed outermost first
      const dirEnd = Math.min(off + len, pathEnd + v.getUint16(off + O.dir_len, true));
      if (!printableNames(src, pathEnd, dirEnd)) return false;
      if (status & EV_DIR_TRUNCATED) out.ascii('...');
      let end = dirEnd > pathEnd && src[dirEnd - 1] === 0 ? dirEnd - 1 : dirEnd;
      while (end > pathEnd) {
        let from = end;
        while (from > pathEnd && src[from - 1] !== 0) from--;
        out.byte(SLASH);
        out.copy(src, from, end);
        end = from - 1;
      }
      out.byte(SLASH);
    }
    if (!printable(src, pathAt, pathEnd)) return false;
    out.copy(src, pathAt, pathEnd);
    if (status & EV_PATH_TRUNCATED) out.ascii('...');
    out.byte(NL);
    return true;
  };
}

