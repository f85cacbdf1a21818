// How sigsnoop and killsnoop print an event: libbpf-tools sigsnoop's columns,
// BCC killsnoop's columns, or one JSON object per line (the same for both).
// TIME is local HH:MM:SS when the row is printed, as both references do.
import { escapeControl, pad } from '@ebpf/core/format';
import { pidMax } from '@ebpf/core';
import { eventJson, type BatchClock, type FastRow } from '@ebpf/core/kit';
import { signalName } from '@ebpf/core/signals';
import { resultOf, type SignalEvent } from './index.js';
import { EVENT_OFFSETS as O } from './sigsnoop.gen.js';

// ---------------------------------------------------------------------------
// sigsnoop (libbpf-tools): "%-8s %-7s %-16s %-9s %-7s %-6s\n"

export const SIGSNOOP_HEADER = `${pad('TIME', 8)} ${pad('PID', 7)} ${pad('COMM', 16)} ${pad('SIG', 9)} ${pad('TPID', 7)} ${pad('RESULT', 6)}`;

/** SIG as sigsnoop prints it: the number, or with -n the name (every signal, 1..64; 0 is N/A as in libbpf-tools). */
export function sigText(sig: number, names: boolean): string {
  if (!names) return String(sig);
  if (sig === 0) return 'N/A';
  return signalName(sig) ?? String(sig);
}

/**
 * One sigsnoop row: "%-8s %-7d %-16s %-9s %-7d %-6d\n" (RESULT keeps its
 * trailing spaces, as libbpf-tools). RESULT is the event's `result`, except
 * with -k (`kill`): there, as in libbpf-tools' -k and BCC's killsnoop, it is
 * the syscall's return value (a tgkill() that returned 0 shows 0 even when its
 * signal was merged into one already pending).
 */
export function sigsnoopRow(ev: SignalEvent, names: boolean, clock: BatchClock, kill = false): string {
  const result = kill ? (ev.ret ?? 0) : ev.result;
  return `${clock.hms()} ${pad(String(ev.pid), 7)} ${pad(escapeControl(ev.comm), 16)} ${pad(sigText(ev.sig, names), 9)} ${pad(String(ev.tpid), 7)} ${pad(String(result), 6)}\n`;
}

const SPACE = 0x20;

/** sigsnoopRow() straight from the ring record (a storm brings a million a second); false for a comm that needs escaping. */
export function sigsnoopFastRow(names: boolean, clock: BatchClock, kill = false): FastRow {
  return (v, o, _len, out) => {
    out.ascii(clock.hms(), 8);
    out.byte(SPACE);
    out.intLeft(v.getUint32(o + O.pid, true), 7);
    out.byte(SPACE);
    if (!out.cstring(v, o + O.comm, 16, 16)) return false;
    out.byte(SPACE);
    const sig = v.getInt32(o + O.sig, true);
    if (names) out.ascii(sigText(sig, true), 9);
    else out.intLeft(sig, 9);
    out.byte(SPACE);
    out.intLeft(v.getInt32(o + O.tpid, true), 7);
    out.byte(SPACE);
    const ret = v.getInt32(o + O.ret, true);
    out.intLeft(kill ? ret : resultOf(ret, v.getInt32(o + O.result, true)), 6);
    out.byte(0x0a);
    return true;
  };
}

// ---------------------------------------------------------------------------
// killsnoop (BCC): "%-9s %-*s %-16s %-4s %-*s %s", the PID columns as wide as
// the longest PID plus one (len(/proc/sys/kernel/pid_max) + 1; 6 by default).

/** BCC's PID column width. */
export function pidWidth(): number {
  return String(pidMax() ?? 32768).length + 1;
}

export function killsnoopHeader(w: number): string {
  return `${pad('TIME', 9)} ${pad('PID', w)} ${pad('COMM', 16)} ${pad('SIG', 4)} ${pad('TPID', w)} RESULT`;
}

/** One killsnoop row. RESULT is BCC's: the syscall's return, 0 or -errno. */
export function killsnoopRow(ev: SignalEvent, w: number, clock: BatchClock): string {
  return `${pad(clock.hms(), 9)} ${pad(String(ev.pid), w)} ${pad(escapeControl(ev.comm), 16)} ${pad(String(ev.sig), 4)} ${pad(String(ev.tpid), w)} ${ev.ret ?? 0}\n`;
}

// ---------------------------------------------------------------------------
// --json: one object per event, the same for both tools.

/** The API event by the kit's convention (time, elapsed first), and the signal's name (`signalName`, null for 0). */
export function jsonObject(ev: SignalEvent, clock: BatchClock): object {
  return eventJson(ev, clock, { signalName: signalName(ev.sig) ?? null });
}
