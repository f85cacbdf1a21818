// Shared by the tcpconnlat tests: loopback connects from tcplife's workloads
// (test/c/tcpsess.c as a gated client: its PID is known before it connects;
// test/c/tcpstorm.c for connects by another process).
import { tcpconnlat, type TcpconnlatOptions, type TcpConnect, type Tracer } from '../src/index.js';
import { collect, type Capture as EventCapture } from '../../../test/support/events.js';
import { startClient, startServer, type Bins, type Family } from '../../tcplife/test/helpers.js';

export { CLIENT_COMM, LOOPBACK, buildBins, runRefused, runStorm, type Bins, type Family } from '../../tcplife/test/helpers.js';

export type Capture = EventCapture<TcpConnect, Tracer<TcpConnect>>;

export const capture = (opts: TcpconnlatOptions = {}): Capture => collect<TcpConnect, Tracer<TcpConnect>>(tcpconnlat(opts));

export interface Connect {
  /** the client's PID, known before it connects */
  pid: number;
  /** the server's port */
  port: number;
  /** go() makes it connect; resolves with its local port once connected, and the session is over */
  go(): Promise<number>;
}

/** A server and a client that connects to it once go() is called. */
export async function gatedConnect(bins: Bins, family: Family): Promise<Connect> {
  const spec = { family, send: 10, reply: 10, closer: 'client' as const, sleepMs: 0, gated: true };
  const server = await startServer(bins, spec);
  const client = startClient(bins, spec, server.port);
  return {
    pid: client.proc.pid,
    port: server.port,
    go: async () => {
      client.go();
      const lport = Number((await client.proc.line('client ')).split(' ')[1]);
      const [s, c] = await Promise.all([server.proc.done, client.proc.done]);
      if (s.code !== 0 || c.code !== 0) throw new Error(`workload failed: server ${s.code}, client ${c.code}`);
      return lport;
    },
  };
}
