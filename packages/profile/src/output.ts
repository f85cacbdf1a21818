// How profile prints: BCC's stack text, its folded lines, its warning, or
// one JSON object per report.
import { foldedStack, stackText, type StackTextFlags } from '@ebpf/core/kit';
import type { Report } from './index.js';

export interface PrintFlags {
  /** -d: a delimiter between the kernel and the user stack. */
  delimited?: boolean;
  /** -a: kernel frames end in _[k]. */
  annotations?: boolean;
  /** -f: folded lines. */
  folded?: boolean;
}

/** -d and -a as the kit's stack printer takes them. */
const shown = (p: PrintFlags): StackTextFlags => ({ delimited: p.delimited, kernelSuffix: p.annotations ? '_[k]' : '' });

/** -f: `comm;outermost;...;innermost count` lines, user frames before kernel ones. */
export const folded = (r: Report, p: PrintFlags): string => r.stacks.map((s) => foldedStack(s, s.count, shown(p))).join('');

/** BCC's text: kernel frames innermost first, `--` with -d, user frames, the process, its samples. */
export function formatReport(r: Report, p: PrintFlags): string {
  return p.folded ? folded(r, p) : r.stacks.map((s) => stackText(s, s.count, shown(p))).join('');
}

/** BCC's warning after the report, and ours for samples the map had no room for. */
export function warnings(r: Report): string {
  let out = '';
  if (r.missedStacks > 0) {
    out += `WARNING: ${r.missedStacks} stack traces could not be displayed. Consider increasing --stack-storage-size.\n`;
  }
  if (r.dropped > 0) out += `WARNING: ${r.dropped} samples not counted: the counts map was full.\n`;
  for (const [m, n] of r.unnamed) out += `NOTE: ${n} samples ran through ${m} where no symbol covers them (stripped, no debug file found): those frames print [unknown].\n`;
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
