// A window, shown: the terminal timeline and memory analysis, the JSON
// object, a Chrome trace-event file (chrome://tracing, Perfetto's UI) and a
// self-contained HTML page.
import { escapeControl, pad, padStart } from '@ebpf/core/format';
import { wallMs, type Block, type Crash, type MemoryAnalysis, type TimelineEvent, type Window } from './model.js';

type Started = Pick<Window, 'started'>;

/** HH:MM:SS.micros, local time. */
export function clock(ms: number): string {
  const d = new Date(Math.floor(ms));
  const p2 = (n: number): string => String(n).padStart(2, '0');
  const us = Math.round((ms - Math.floor(ms / 1000) * 1000) * 1000);
  return `${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}.${String(Math.min(us, 999_999)).padStart(6, '0')}`;
}

export function crashBanner(w: Started, c: Crash): string {
  const at = c.address !== undefined ? ` at address ${c.address}` : c.sentBy !== undefined ? `, sent by ${c.sentBy ? `pid ${c.sentBy}` : 'a process'} (not a fault)` : '';
  const frames = c.frames.map((f) => `    ${escapeControl(f)}\n`).join('');
  return `CRASH DETECTED: ${c.signal} in pid ${c.pid} (tid ${c.tid}) at ${clock(wallMs(w, c))}${at}\n${frames}`;
}

export const HEADER = `${pad('TIME', 15)} ${padStart('PID', 7)} ${padStart('TID', 7)} ${pad('TYPE', 10)} ${pad('ADDRESS/NAME', 20)} DETAILS\n`;

export function row(w: Started, e: TimelineEvent): string {
  const what = e.type === 'ALLOC' || e.type === 'FREE' ? `${e.name} ${e.address}` : e.address && e.type !== 'FUNC_ENTRY' ? `${e.name} ${e.address}` : e.name;
  return `${`${clock(wallMs(w, e))} ${padStart(String(e.pid), 7)} ${padStart(String(e.tid), 7)} ${pad(e.type, 10)} ${pad(escapeControl(what), 20)} ${escapeControl(e.details)}`.trimEnd()}\n`;
}

const stackLines = (w: Window, id: string | undefined, indent: string): string =>
  (id && w.stacks[id] ? w.stacks[id]! : ['[stack not recorded]']).map((f) => `${indent}${escapeControl(f)}\n`).join('');

function blockLine(w: Started, b: Block): string {
  return `0x${BigInt(b.address).toString(16)} ${b.size} bytes, ${b.allocated.name} at ${clock(wallMs(w, b.allocated))} (tid ${b.allocated.tid})`;
}

export function memoryReport(w: Window, m: MemoryAnalysis): string {
  let s = 'MEMORY ANALYSIS\n';
  s += `  allocations: ${m.allocations} (${m.allocatedBytes} bytes)   frees: ${m.frees} (${m.freedBytes} bytes of blocks allocated in the window)\n`;
  s += `  outstanding: ${m.outstanding.length} blocks, ${m.outstandingBytes} bytes\n`;
  for (const b of m.outstanding.slice(-10)) s += `    ${blockLine(w, b)}\n${stackLines(w, b.allocated.stack, '        ')}`;
  if (m.outstanding.length > 10) s += `    ... ${m.outstanding.length - 10} more\n`;
  const u = m.useAfterFree;
  if (u) {
    s += `  USE-AFTER-FREE: the fault address ${u.faultAddress} is ${u.offset} bytes into a block freed before the crash\n`;
    s += `    block: ${blockLine(w, u)}\n${stackLines(w, u.allocated.stack, '        ')}`;
    s += `    freed by ${u.freed!.name} at ${clock(wallMs(w, u.freed!))} (tid ${u.freed!.tid}), ${(w.crash!.elapsed - u.freed!.elapsed).toFixed(6)} s before the crash:\n`;
    s += stackLines(w, u.freed!.stack, '        ');
  } else if (w.crash?.address) {
    s += `  use-after-free: none found (${w.crash.address} is in no block freed in the window)\n`;
  }
  return s;
}

// ---------------------------------------------------------------------------
// Chrome trace-event format (the JSON object form): one track per thread,
// system calls as complete events (ph X) with their duration, everything
// else as thread-scoped instants, the crash as a global instant.

export interface TraceEvent {
  name: string;
  cat: string;
  ph: 'X' | 'i' | 'M';
  ts: number;
  pid: number;
  tid: number;
  dur?: number;
  s?: 't' | 'p' | 'g';
  args?: Record<string, unknown>;
}

export function chromeTrace(w: Window, events: readonly TimelineEvent[]): { traceEvents: TraceEvent[]; displayTimeUnit: 'ms'; otherData: Record<string, unknown> } {
  const out: TraceEvent[] = [{ name: 'process_name', cat: '__metadata', ph: 'M', ts: 0, pid: w.pid, tid: w.pid, args: { name: w.command ?? `pid ${w.pid}` } }];
  const tids = new Set<number>();
  for (const e of events) {
    tids.add(e.tid);
    const args: Record<string, unknown> = { details: e.details };
    if (e.address) args.address = e.address;
    if (e.stack && w.stacks[e.stack]) args.stack = w.stacks[e.stack];
    const ts = e.elapsed * 1e6; // µs since recording started
    if (e.durationUs !== undefined) {
      out.push({ name: e.name, cat: e.type, ph: 'X', ts: ts - e.durationUs, dur: e.durationUs, pid: e.pid, tid: e.tid, args });
    } else if (e.type !== 'CRASH') {
      out.push({ name: e.type === 'ALLOC' || e.type === 'FREE' ? `${e.name} ${e.address}` : e.name, cat: e.type, ph: 'i', s: 't', ts, pid: e.pid, tid: e.tid, args });
    }
  }
  for (const tid of tids) out.push({ name: 'thread_name', cat: '__metadata', ph: 'M', ts: 0, pid: w.pid, tid, args: { name: tid === w.pid ? 'main' : `thread ${tid}` } });
  if (w.crash) {
    out.push({ name: `CRASH ${w.crash.signal}`, cat: 'CRASH', ph: 'i', s: 'g', ts: w.crash.elapsed * 1e6, pid: w.crash.pid, tid: w.crash.tid, args: { address: w.crash.address, frames: w.crash.frames } });
  }
  return { traceEvents: out, displayTimeUnit: 'ms', otherData: { tool: 'timemachine', pid: w.pid, started: w.started.time, lost: w.lost } };
}

// ---------------------------------------------------------------------------
// The HTML page: the data inline, drawn by a small script: one lane per
// thread (events as ticks, the crash as a red line, the freed block's
// free and its allocation marked), then the table. No network, no library.

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function html(w: Window, events: readonly TimelineEvent[], m: MemoryAnalysis): string {
  // The page draws with `t`, each event's wall clock in ms (µs precision).
  const t = <T extends { timestamp: string }>(e: T): T & { t: number } => ({ ...e, t: wallMs(w, e) });
  const memory = { ...m, useAfterFree: m.useAfterFree && { ...m.useAfterFree, allocated: t(m.useAfterFree.allocated), freed: m.useAfterFree.freed && t(m.useAfterFree.freed) } };
  const data = JSON.stringify({ pid: w.pid, command: w.command, crash: w.crash && t(w.crash), events: events.map(t), memory, stacks: w.stacks }).replace(/</g, '\\u003c');
  const title = `timemachine: pid ${w.pid}${w.crash ? ` crashed with ${w.crash.signal}` : ''}`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body{font:13px system-ui,sans-serif;margin:16px;color:#222}
h1{font-size:18px} .crash{color:#b00;font-weight:bold} .uaf{background:#fff3cd;border:1px solid #e0b000;padding:8px;margin:8px 0}
#lanes{border:1px solid #ccc;margin:8px 0} table{border-collapse:collapse;font:12px ui-monospace,monospace}
td,th{padding:1px 6px;text-align:left;white-space:nowrap} tr.CRASH{background:#fdd} tr.freed{background:#fff3cd} tr.FREE td:nth-child(4){color:#a60}
tr.ALLOC td:nth-child(4){color:#070} tr.FILE td:nth-child(4){color:#06c} pre{margin:2px 0 2px 16px}
</style></head><body>
<h1>${esc(title)}</h1>
<div id="summary"></div>
<svg id="lanes" width="1100" height="60"></svg>
<div id="memory"></div>
<table><thead><tr><th>TIME</th><th>PID</th><th>TID</th><th>TYPE</th><th>ADDRESS/NAME</th><th>DETAILS</th></tr></thead><tbody id="rows"></tbody></table>
<script>
const D = ${data};
const $ = (id) => document.getElementById(id);
const t = (ms) => { const d = new Date(ms); return d.toTimeString().slice(0, 8) + '.' + String(Math.round((ms % 1000) * 1000)).padStart(6, '0'); };
const text = (s) => { const n = document.createElement('span'); n.textContent = s; return n.innerHTML; };
const colors = { SYSCALL: '#888', FILE: '#06c', ALLOC: '#070', FREE: '#a60', FUNC_ENTRY: '#609', SIGNAL: '#c60', CRASH: '#d00', EXIT: '#000' };
const uaf = D.memory.useAfterFree;
if (D.crash) $('summary').innerHTML = '<p class="crash">CRASH DETECTED: ' + text(D.crash.signal) + ' in pid ' + D.crash.pid + ' (tid ' + D.crash.tid + ') at ' + t(D.crash.t) + (D.crash.address ? ' at address ' + text(D.crash.address) : D.crash.sentBy !== undefined ? ', sent by ' + (D.crash.sentBy ? 'pid ' + D.crash.sentBy : 'a process') + ' (not a fault)' : '') + '</p><pre>' + D.crash.frames.map(text).join('\\n') + '</pre>';
else $('summary').innerHTML = '<p>No crash in this window.</p>';
const m = D.memory;
let mem = '<h2>Memory</h2><p>allocations: ' + m.allocations + ' (' + m.allocatedBytes + ' bytes), frees: ' + m.frees + ', outstanding: ' + m.outstanding.length + ' blocks (' + m.outstandingBytes + ' bytes)</p>';
if (uaf) mem += '<div class="uaf" id="uaf"><b>Use-after-free:</b> the fault address ' + text(uaf.faultAddress) + ' is ' + uaf.offset + ' bytes into the freed block <b>' + text(uaf.address) + '</b> (' + uaf.size + ' bytes), allocated by ' + text(uaf.allocated.name) + ' at ' + t(uaf.allocated.t) + ', freed by ' + text(uaf.freed.name) + ' at ' + t(uaf.freed.t) + '<pre>' + (D.stacks[uaf.freed.stack] || ['[stack not recorded]']).map(text).join('\\n') + '</pre></div>';
$('memory').innerHTML = mem;
const ev = D.events, svg = $('lanes');
if (ev.length) {
  const t0 = ev[0].t, t1 = Math.max(ev[ev.length - 1].t, t0 + 1), W = 1000;
  const tids = [...new Set(ev.map((e) => e.tid))];
  svg.setAttribute('height', String(20 + tids.length * 24));
  const x = (ms) => 90 + ((ms - t0) / (t1 - t0)) * W;
  let g = '';
  tids.forEach((tid, i) => { g += '<text x="4" y="' + (24 + i * 24) + '">tid ' + tid + '</text>'; });
  for (const e of ev) {
    const y = 10 + tids.indexOf(e.tid) * 24;
    const freed = uaf && (e === ev.find((f) => f.t === uaf.freed.t && f.type === 'FREE' && f.address === uaf.freed.address));
    g += '<rect x="' + x(e.t).toFixed(1) + '" y="' + y + '" width="' + (freed ? 4 : 1.5) + '" height="18" fill="' + (freed ? '#e0b000' : colors[e.type]) + '"><title>' + text(e.type + ' ' + e.name + ' ' + (e.address || '') + ' ' + e.details) + '</title></rect>';
  }
  if (D.crash) g += '<line x1="' + x(D.crash.t) + '" x2="' + x(D.crash.t) + '" y1="0" y2="1000" stroke="#d00" stroke-width="2"/>';
  svg.innerHTML = g;
}
$('rows').innerHTML = ev.map((e) => {
  const freed = uaf && ((e.type === 'FREE' && e.address === uaf.address && e.t === uaf.freed.t) || (e.type === 'ALLOC' && e.address === uaf.address && e.t === uaf.allocated.t));
  return '<tr class="' + e.type + (freed ? ' freed' : '') + '"><td>' + t(e.t) + '</td><td>' + e.pid + '</td><td>' + e.tid + '</td><td>' + e.type + '</td><td>' + text(e.name + (e.address && e.type !== 'FUNC_ENTRY' ? ' ' + e.address : '')) + '</td><td>' + text(e.details) + '</td></tr>';
}).join('');
</script></body></html>
`;
}
