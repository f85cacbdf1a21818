// How offcputime prints: BCC's stack text, its folded lines, its warnings,
// or one JSON object per report.
import { foldedStack, stackText } from '@ebpf/core/kit';
import type { Report } from './index.js';

export interface PrintFlags {
  /** -d: a delimiter between the kernel and the user stack. */
  delimited?: boolean;
  /** -f: folded lines. */
  folded?: boolean;
}

/** Off-CPU time in whole microseconds, as BCC prints it. */
const us = (ns: number): number => Math.floor(ns / 1000);

/**
 * A report: smallest total first, so the largest is nearest the prompt. BCC
 * starts the text form with a blank line; -f prints `comm;outermost;...;
 * innermost total_us` lines, user frames before kernel ones (a flame
 * graph's input).
 */
export function formatReport(r: Report, f: PrintFlags): string {
  if (f.folded) return r.stacks.map((s) => foldedStack(s, us(s.totalNs), f)).join('');
  return '\n' + r.stacks.map((s) => stackText(s, us(s.totalNs), f)).join('');
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
