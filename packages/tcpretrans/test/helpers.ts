// Shared by the tcpretrans tests: a real retransmit over loopback
// (test/c/synflood.c: a SYN dropped by a listener whose accept queue is full
// goes again after 1 s).
import { compileC, start, type Child } from '../../../test/support/workload.js';

export type Family = 4 | 6;
export const LOOPBACK: Record<Family, string> = { 4: '127.0.0.1', 6: '::1' };

export const buildSynflood = (): string => compileC(new URL('./c/synflood.c', import.meta.url));

export interface Flood {
  proc: Child;
  /** the listener's port and the dropped client's local port */
  port: number;
  lport: number;
}

/** Starts synflood; resolves once the second client's SYN is out (it retransmits until killed). */
export async function startFlood(bin: string, family: Family): Promise<Flood> {
  const proc = start(bin, [String(family)]);
  const port = Number((await proc.line('listening ')).split(' ')[1]);
  const lport = Number((await proc.line('client ')).split(' ')[1]);
  return { proc, port, lport };
}
