// How profile prints: BCC's stack text, its folded lines, its warning, or
// one JSON object per report.
import { escapeControl, pad } from '@ebpf/core/format';
import type { Frame, ProfileStack, Report } from './index.js';

export interface PrintFlags {
  /** -d: a delimiter between the kernel and the user stack. */
  delimited?: boolean;
  /** -a: kernel frames end in _[k]. */
  annotations?: boolean;
  /** -f: folded lines. */
  folded?: boolean;
}

const name = (f: Frame): string => escapeControl(f.name ?? '[unknown]');
const kname = (f: Frame, p: PrintFlags): string => name(f) + (p.annotations ? '_[k]' : '');
const both = (s: ProfileStack): boolean => !!s.kernelFrames?.length && !!s.userFrames?.length;

/** One stack as BCC prints it: kernel frames innermost first, `--` with -d, user frames, the process, its samples. */
function stackText(s: ProfileStack, p: PrintFlags): string {
  let out = '';
  if (s.kernelFrames) {
    if (s.kernelMissed) out += '    [Missed Kernel Stack]\n';
    else for (const f of s.kernelFrames) out += `    ${kname(f, p)}\n`;
  }
  if (s.userFrames) {
    if (p.delimited && both(s)) out += '    --\n';
    if (s.userMissed) out += '    [Missed User Stack]\n';
    else for (const f of s.userFrames) out += `    ${name(f)}\n`;
  }
  return `${out}    ${pad('-', 16)} ${escapeControl(s.comm)} (${s.pid})\n        ${s.count}\n\n`;
}

/** -f: `comm;outermost;...;innermost count`, user frames before kernel ones. */
function foldedLine(s: ProfileStack, p: PrintFlags): string {
  const parts = [escapeControl(s.comm)];
  if (s.userFrames) {
    if (s.userMissed) parts.push('[Missed User Stack]');
    else for (let i = s.userFrames.length - 1; i >= 0; i--) parts.push(name(s.userFrames[i]!));
  }
  if (s.kernelFrames) {
    if (p.delimited && both(s)) parts.push('-');
    if (s.kernelMissed) parts.push('[Missed Kernel Stack]');
    else for (let i = s.kernelFrames.length - 1; i >= 0; i--) parts.push(kname(s.kernelFrames[i]!, p));
  }
  return `${parts.join(';')} ${s.count}\n`;
}

export const folded = (r: Report, p: PrintFlags): string => r.stacks.map((s) => foldedLine(s, p)).join('');

export function formatReport(r: Report, p: PrintFlags): string {
  return p.folded ? folded(r, p) : r.stacks.map((s) => stackText(s, p)).join('');
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
