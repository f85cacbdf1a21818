// How sigsnoop and killsnoop print an event: libbpf-tools sigsnoop's columns,
// BCC killsnoop's columns, or one JSON object per line (the same for both).
import { readFileSync } from 'node:fs';
import { escapeControl, hhmmss, jsonLine, pad } from '@ebpf/core/format';
import { signalName } from '@ebpf/core/signals';
import type { SignalEvent } from './index.js';

// ---------------------------------------------------------------------------
// The clock column: local HH:MM:SS when the row is printed, as both
// references do. A storm prints a million rows a second: the string is made
// once per second, not once per row.

let clockSecond = -1;
let clockText = '';

/** Local time as HH:MM:SS, now. */
export function clock(): string {
  const now = Date.now();
  const s = Math.floor(now / 1000);
  if (s !== clockSecond) {
    clockSecond = s;
    clockText = hhmmss(new Date(now));
  }
  return clockText;
}

// ---------------------------------------------------------------------------
// Padded cells. In a storm the same few PIDs, names and results repeat on
// every row: each padded cell is made once and reused, so a row costs one
// string concatenation instead of a dozen temporary strings.

class CellCache<K> {
  #map = new Map<K, string>();
  constructor(private readonly make: (key: K) => string) {}
  get(key: K): string {
    let v = this.#map.get(key);
    if (v === undefined) {
      if (this.#map.size >= 4096) this.#map.clear();
      v = this.make(key);
      this.#map.set(key, v);
    }
    return v;
  }
}

const pad7 = new CellCache<number>((n) => pad(String(n), 7));
const pad6 = new CellCache<number>((n) => pad(String(n), 6));
const comm16 = new CellCache<string>((c) => pad(escapeControl(c), 16));
const sigCells = (names: boolean) => new CellCache<number>((sig) => pad(sigText(sig, names), 9));
const sigNumbers = sigCells(false);
const sigNames = sigCells(true);

// ---------------------------------------------------------------------------
// sigsnoop (libbpf-tools): "%-8s %-7s %-16s %-9s %-7s %-6s\n"

export const SIGSNOOP_HEADER = `${pad('TIME', 8)} ${pad('PID', 7)} ${pad('COMM', 16)} ${pad('SIG', 9)} ${pad('TPID', 7)} ${pad('RESULT', 6)}`;

/** SIG as sigsnoop prints it: the number, or with -n the name (every signal, 1..64; 0 is N/A as in libbpf-tools). */
export function sigText(sig: number, names: boolean): string {
  if (!names) return String(sig);
  if (sig === 0) return 'N/A';
  return signalName(sig) ?? String(sig);
}

/** One sigsnoop row: "%-8s %-7d %-16s %-9s %-7d %-6d\n" (RESULT keeps its trailing spaces, as libbpf-tools). */
export function sigsnoopRow(ev: SignalEvent, names: boolean): string {
  const sig = (names ? sigNames : sigNumbers).get(ev.sig);
  return `${clock()} ${pad7.get(ev.pid)} ${comm16.get(ev.comm)} ${sig} ${pad7.get(ev.tpid)} ${pad6.get(ev.result)}\n`;
}

// ---------------------------------------------------------------------------
// killsnoop (BCC): "%-9s %-*s %-16s %-4s %-*s %s", the PID columns as wide as
// the longest PID plus one (len(/proc/sys/kernel/pid_max) + 1; 6 by default).

/** BCC's PID column width. */
export function pidWidth(): number {
  try {
    return readFileSync('/proc/sys/kernel/pid_max', 'utf8').trim().length + 1;
  } catch {
    return 6;
  }
}

export function killsnoopHeader(w: number): string {
  return `${pad('TIME', 9)} ${pad('PID', w)} ${pad('COMM', 16)} ${pad('SIG', 4)} ${pad('TPID', w)} RESULT`;
}

/** One killsnoop row. RESULT is BCC's: the syscall's return, 0 or -errno. */
export function killsnoopRow(ev: SignalEvent, w: number): string {
  return `${pad(clock(), 9)} ${pad(String(ev.pid), w)} ${pad(escapeControl(ev.comm), 16)} ${pad(String(ev.sig), 4)} ${pad(String(ev.tpid), w)} ${ev.ret ?? 0}\n`;
}

// ---------------------------------------------------------------------------
// --json: one object per event, the same for both tools.

let isoMs = -1;
let isoText = '';

export function formatJson(ev: SignalEvent, startNs: bigint): string {
  const now = Date.now();
  if (now !== isoMs) {
    isoMs = now;
    isoText = new Date(now).toISOString();
  }
  return jsonLine({
    time: isoText,
    timestamp: Number(ev.timestamp - startNs) / 1e9,
    pid: ev.pid,
    tid: ev.tid,
    comm: ev.comm,
    sig: ev.sig,
    signal: signalName(ev.sig) ?? null,
    tpid: ev.tpid,
    syscall: ev.syscall,
    ret: ev.ret,
    generated: ev.generated,
    delivery: ev.delivery,
    code: ev.code,
    result: ev.result,
  });
}
