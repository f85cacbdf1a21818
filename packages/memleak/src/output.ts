// How memleak prints: BCC's report text byte for byte, its -t lines, or
// one JSON object per line.
import { rawBytes } from '@ebpf/core/decode';
import { hhmmss, jsonLine } from '@ebpf/core/format';
import { eventJson, type BatchClock } from '@ebpf/core/kit';
import type { Report, TraceEvent } from './index.js';

const hex16 = (a: bigint): string => `0x${a.toString(16).padStart(16, '0')}`;

/**
 * One report as BCC's memleak prints it:
 *
 *   [HH:MM:SS] Top N stacks with outstanding allocations:
 *   \taddr = 55d1c3a4f2a0 size = 123                 (-a, smallest first)
 *   \t861 bytes in 7 allocations from stack
 *   \t\t0x000055d1c2e0a1bf\tleaky+0xf [prog]        (the default report)
 *   \t\tleaky+0xf [prog]                             (--combined-only)
 *
 * Stacks come smallest first, so the biggest is last, nearest the prompt.
 * N is the number of stacks shown (BCC prints the -T value instead).
 */
export function formatReport(r: Report): string {
  const lines = [`[${hhmmss(r.time)}] Top ${r.stacks.length} stacks with outstanding allocations:`];
  for (const a of r.allocations ?? []) lines.push(`\taddr = ${a.address.toString(16)} size = ${a.size}`);
  for (let i = r.stacks.length - 1; i >= 0; i--) {
    const s = r.stacks[i]!;
    lines.push(`\t${s.bytes} bytes in ${s.allocations} allocations from stack`);
    if (s.lost) lines.push('\t\tstack information lost');
    else if (s.frames.length === 0) lines.push('\t\t');
    else for (const f of s.frames) lines.push(r.combined ? `\t\t${f.text}` : `\t\t${hex16(f.address)}\t${f.text}`);
  }
  return lines.join('\n') + '\n';
}

/**
 * One report as JSON: the API's Report under its own names, by the JSON
 * convention (core README): 64-bit ids and addresses as decimal strings,
 * frames innermost first with their `text`; the kit puts `time` and
 * `elapsed` first.
 */
export function reportJson(r: Report): object {
  return { type: 'report', ...r };
}

/** Python's repr() of a bytes object: b'...' with its escapes (of the exact bytes: a comm need not be UTF-8). */
export function pyBytes(s: string): string {
  const b = rawBytes(s);
  const quote = b.includes(0x27) && !b.includes(0x22) ? '"' : "'";
  let out = 'b' + quote;
  for (const c of b) {
    if (c === 0x5c) out += '\\\\';
    else if (c === quote.charCodeAt(0)) out += '\\' + quote;
    else if (c === 0x09) out += '\\t';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c >= 0x20 && c < 0x7f) out += String.fromCharCode(c);
    else out += '\\x' + c.toString(16).padStart(2, '0');
  }
  return out + quote;
}

/** Python's repr() of a float that holds a whole number of microseconds. */
function pyFloat(x: number): string {
  const s = String(x);
  return Number.isInteger(x) ? `${s}.0` : s;
}

/** The message BCC's BPF program printed with bpf_trace_printk(). */
export function traceMessage(e: TraceEvent): string {
  switch (e.kind) {
    case 'alloc-enter':
      return `alloc entered, size = ${e.size}`;
    case 'alloc-exit':
      return `alloc exited, size = ${e.size}, result = ${e.address.toString(16)}`;
    default:
      return `free entered, address = ${e.address.toString(16)}, size = ${e.size}`;
  }
}

/**
 * -t: what BCC prints for each call, `print(bpf.trace_fields())`, the
 * Python tuple (task, pid, cpu, flags, timestamp, message). The trace_pipe
 * flags column has no equivalent here and reads '....'.
 */
export function formatTrace(e: TraceEvent): string {
  const ts = Number(e.timestamp / 1000n) / 1e6;
  return `(${pyBytes(e.comm)}, ${e.tid}, ${e.cpu}, b'....', ${pyFloat(ts)}, ${pyBytes(traceMessage(e))})\n`;
}

/** -t --json: the API's TraceEvent by the kit's convention (`time`, `elapsed`, then its fields; `address` a decimal string). */
export function formatTraceJson(e: TraceEvent, clock: BatchClock): string {
  return jsonLine(eventJson(e, clock));
}
