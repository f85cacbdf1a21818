// How oomkill prints a kill: BCC's sentence, or one JSON object per line.
import { escapeControl, hhmmss } from '@ebpf/core/format';
import type { OomKill } from './index.js';

/** BCC's first line. */
export const HEADER = 'Tracing OOM kills... Ctrl-C to stop.';

/**
 * BCC's row, at the kill's own time (local HH:MM:SS), spelled as BCC spells
 * it. Its "N pages" is BCC's oom_control totalpages, which no tracepoint
 * carries; here it is what BCC's examples read it as, the victim's size: its
 * resident pages (anonymous + file + shared memory) when it was killed.
 */
export function formatRow(k: OomKill, wall: (ts: bigint) => Date): string {
  return (
    `${hhmmss(wall(k.timestamp))} Triggered by PID ${k.triggerPid} ("${escapeControl(k.triggerComm)}"), ` +
    `OOM kill of PID ${k.pid} ("${escapeControl(k.comm)}"), ${k.rssPages} pages, loadavg: ${k.loadavg}\n`
  );
}

