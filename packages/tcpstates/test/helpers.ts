// Shared by the tcpstates tests: a tracer that collects changes, and the
// lives of single sockets in them. The workloads are tcplife's (tcpsess.c,
// tcpstorm.c, prefork.c: loopback sessions, storms and a prefork server).
import { expect } from 'vitest';
import { tcpstates, type TcpstatesOptions, type TcpStateChange, type Tracer } from '../src/index.js';
import { collect, type Capture as EventCapture } from '../../../test/support/events.js';

export {
  CLIENT_COMM, SERVER_COMM, LOOPBACK, buildBins, runPrefork, runSession, runStorm, startClient, startServer,
  type Bins, type Family, type PreforkRun, type SessionRun,
} from '../../tcplife/test/helpers.js';

export type Capture = EventCapture<TcpStateChange, Tracer<TcpStateChange>>;

export function capture(opts: TcpstatesOptions = {}): Capture {
  return collect<TcpStateChange, Tracer<TcpStateChange>>(tcpstates(opts));
}

/** "OLD->NEW" of each change. */
export const moves = (life: TcpStateChange[]): string[] => life.map((c) => `${c.oldState}->${c.newState}`);

/**
 * The life of one socket among `events`: the changes of the socket that had
 * ports `lport` and `rport` at some change, from its first change seen to its
 * CLOSE (socket addresses are reused once a socket is freed).
 */
export function lifeOf(events: TcpStateChange[], lport: number, rport: number): TcpStateChange[] {
  const at = events.findIndex((c) => c.lport === lport && c.rport === rport);
  if (at < 0) return [];
  const sk = events[at]!.skaddr;
  let from = at;
  for (let i = at - 1; i >= 0; i--) {
    const c = events[i]!;
    if (c.skaddr !== sk) continue;
    if (c.newState === 'CLOSE') break;
    from = i;
  }
  const life: TcpStateChange[] = [];
  for (let i = from; i < events.length; i++) {
    const c = events[i]!;
    if (c.skaddr !== sk) continue;
    life.push(c);
    if (c.newState === 'CLOSE') break;
  }
  return life;
}

/** A life is complete once it reached CLOSE. */
export const closed = (life: TcpStateChange[]): boolean => life.at(-1)?.newState === 'CLOSE';

/**
 * The span of each change is exactly the time since the socket's previous
 * change (the same clock reading ends one state and starts the next); the
 * first change seen has none.
 */
export function expectChained(life: TcpStateChange[]): void {
  expect(life[0]?.spanNs).toBe(undefined);
  for (let i = 1; i < life.length; i++) expect(life[i]!.spanNs).toBe(Number(life[i]!.timestamp - life[i - 1]!.timestamp));
}
