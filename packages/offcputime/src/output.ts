// How offcputime prints: BCC's stack text, its folded lines, its warnings,
// or one JSON object per report.
import { escapeControl, pad } from '@ebpf/core/format';
import type { Frame, OffcpuStack, Report } from './index.js';

export interface PrintFlags {
  /** -d: a delimiter between the kernel and the user stack. */
  delimited?: boolean;
  /** -f: folded lines. */
  folded?: boolean;
  userStacksOnly?: boolean;
  kernelStacksOnly?: boolean;
}

/** As BCC's sym()/ksym() without offset or module: the name, or [unknown]. */
const name = (f: Frame): string => escapeControl(f.name ?? '[unknown]');
const us = (ns: number): number => Math.floor(ns / 1000);
/** -d's delimiter goes between two stacks that were both recorded. */
const both = (s: OffcpuStack): boolean => !!s.kernelFrames?.length && !!s.userFrames?.length;

/**
 * One stack as BCC prints it: kernel frames (innermost first), `--` with -d,
 * user frames, the thread, and its total in microseconds, then a blank line.
 *
 *       __schedule
 *       ...
 *       main
 *       -                sleeper (4242)
 *           500123
 */
function stackText(s: OffcpuStack, f: PrintFlags): string {
  let out = '';
  if (s.kernelFrames) {
    if (s.kernelMissed) out += '    [Missed Kernel Stack]\n';
    else for (const fr of s.kernelFrames) out += `    ${name(fr)}\n`;
  }
  if (s.userFrames) {
    if (f.delimited && both(s)) out += '    --\n';
    if (s.userMissed) out += '    [Missed User Stack]\n';
    else for (const fr of s.userFrames) out += `    ${name(fr)}\n`;
  }
  return `${out}    ${pad('-', 16)} ${escapeControl(s.comm)} (${s.pid})\n        ${us(s.totalNs)}\n\n`;
}

/** -f: `comm;outermost;...;innermost total_us`, user frames before kernel ones (a flame graph's input). */
export function foldedLine(s: OffcpuStack, f: PrintFlags): string {
  const parts = [escapeControl(s.comm)];
  if (s.userFrames) {
    if (s.userMissed) parts.push('[Missed User Stack]');
    else for (let i = s.userFrames.length - 1; i >= 0; i--) parts.push(name(s.userFrames[i]!));
  }
  if (s.kernelFrames) {
    if (f.delimited && both(s)) parts.push('-');
    if (s.kernelMissed) parts.push('[Missed Kernel Stack]');
    else for (let i = s.kernelFrames.length - 1; i >= 0; i--) parts.push(name(s.kernelFrames[i]!));
  }
  return `${parts.join(';')} ${us(s.totalNs)}\n`;
}

/** A report: smallest total first, so the largest is nearest the prompt. BCC starts the text form with a blank line. */
export function formatReport(r: Report, f: PrintFlags): string {
  if (f.folded) return r.stacks.map((s) => foldedLine(s, f)).join('');
  return '\n' + r.stacks.map((s) => stackText(s, f)).join('');
}

/** BCC's warning after the report, and ours for totals the map had no room for. */
export function warnings(r: Report): string {
  let out = '';
  if (r.missedStacks > 0) {
    out += `WARNING: ${r.missedStacks} stack traces lost and could not be displayed. Consider increasing --stack-storage-size.\n`;
  }
  if (r.dropped > 0) out += `WARNING: ${r.dropped} off-CPU blocks not counted: the totals map was full.\n`;
  return out;
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
