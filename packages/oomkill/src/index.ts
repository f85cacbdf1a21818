// @ebpf/oomkill: every kill by the kernel's out-of-memory killer, as typed events.
//
//   import { oomkill } from '@ebpf/oomkill';
//   const trace = oomkill();
//   for await (const k of trace) console.log(k.triggerPid, k.pid, k.comm, k.rssPages, k.loadavg);
//   trace.close();
import { readFileSync } from 'node:fs';
import { PreflightError, tracefsRoot, type Tracer } from '@ebpf/core';
import { containerOptions, defineEventTool, type ContainerOptions } from '@ebpf/core/kit';
import { decodeEvent } from './oomkill.gen.js';

export interface OomkillOptions extends ContainerOptions {
  /** Ring buffer size in bytes, a power of two (default 16 KiB). */
  ringBytes?: number;
}

/** One OOM kill: who triggered it, who was killed, what the victim held. */
export interface OomKill {
  /** CLOCK_MONOTONIC nanoseconds of the kill (same clock as process.hrtime.bigint()). */
  timestamp: bigint;
  /** The process whose allocation ran out of memory (the task running the OOM killer). */
  triggerPid: number;
  /** Its name (the running thread's, as BCC prints it). */
  triggerComm: string;
  /** The killed process (thread-group id). */
  pid: number;
  /** The victim's thread the kernel marked (one that still had its memory); usually `pid`. */
  tid: number;
  /** The killed process's name. */
  comm: string;
  /** The victim's real user id. */
  uid: number;
  /** The victim's oom_score_adj (-1000..1000): how the OOM killer's choice was biased. */
  oomScoreAdj: number;
  /** Resident pages: anonymous + file + shared memory (what the text row prints). */
  rssPages: number;
  /** Pages mapped (VmSize). */
  totalVmPages: number;
  anonRssPages: number;
  fileRssPages: number;
  shmemRssPages: number;
  /** Pages swapped out. */
  swapPages: number;
  /** Bytes of page tables. */
  pgtablesBytes: number;
  /** /proc/loadavg when the event was read, as BCC prints it: "0.99 0.39 0.30 3/282 22724". */
  loadavg: string;
}

/** /proc/loadavg without its newline (BCC reads it in its event callback too). */
export function readLoadavg(): string {
  return readFileSync('/proc/loadavg', 'latin1').trimEnd();
}

/** Turns one ring record into an OomKill (reading /proc/loadavg now). */
export function decodeKill(view: DataView, offset: number, length: number): OomKill {
  const r = decodeEvent(view, offset, length);
  const [anon, file, shmem] = [Number(r.anon_rss), Number(r.file_rss), Number(r.shmem_rss)];
  return {
    timestamp: r.ts,
    triggerPid: r.trigger_pid,
    triggerComm: r.trigger_comm,
    pid: r.pid,
    tid: r.tid,
    comm: r.comm,
    uid: r.uid,
    oomScoreAdj: r.oom_score_adj,
    rssPages: anon + file + shmem,
    totalVmPages: Number(r.total_vm),
    anonRssPages: anon,
    fileRssPages: file,
    shmemRssPages: shmem,
    swapPages: Number(r.swap_ents),
    pgtablesBytes: Number(r.pgtables),
    loadavg: readLoadavg(),
  };
}

/**
 * Refuses kernels whose oom:mark_victim passes only the victim's pid (before
 * Linux 6.9 and its stable backports): the program reads the victim's task.
 * The record gained `uid` in the same change, so tracefs tells them apart.
 */
function checkMarkVictim(): void {
  const format = readFileSync(`${tracefsRoot()}/events/oom/mark_victim/format`, 'latin1');
  if (!/\buid;/.test(format)) {
    throw new PreflightError('no-tracepoint', "this kernel's oom:mark_victim tracepoint does not pass the victim's task (Linux 6.9 or later needed)");
  }
}

/** oomkill has no options of its own (BCC's has none): the kit's container filters (on the victim); ringBytes is common to every tool. */
export const options = { ...containerOptions };

export const tool = defineEventTool({
  name: 'oomkill',
  object: new URL('./oomkill.bpf.o', import.meta.url),
  options,
  ring: { defaultBytes: 16 * 1024 },
  // Kills are rare: wake the reader on every record rather than when a
  // quarter of the ring is full (it would wait for the drain timer).
  knobs: () => ({ ebpf_wakeup_bytes: 0 }),
  target: checkMarkVictim, // runs after preflight: tracefs is mounted
  decode: decodeKill,
});

/**
 * Starts tracing OOM kills. Throws a PreflightError when the machine cannot
 * (not root, no BTF, no tracefs, a kernel too old), a UsageError for bad
 * options.
 */
export function oomkill(opts: OomkillOptions = {}): Tracer<OomKill> {
  return tool.start(opts);
}

export type { Tracer } from '@ebpf/core';
