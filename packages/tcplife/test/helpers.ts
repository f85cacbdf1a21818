// Shared by the tcplife tests: a tracer that collects sessions, and loopback
// TCP sessions with known byte counts and timing between two small C
// programs (test/c/tcpsess.c) built under two names, so the client and the
// server side each have their own PID and comm.
import { tcplife, type TcplifeOptions, type TcplifeTracer, type TcpSession } from '../src/index.js';
import { collect, type Capture as EventCapture } from '../../../test/support/events.js';
import { compileC, start, type Child } from '../../../test/support/workload.js';

/** The client binary's name: 17 characters, so the kernel keeps 15 ("tl-client_long_"). */
export const CLIENT_NAME = 'tl-client_long_name';
export const CLIENT_COMM = 'tl-client_long_';
export const SERVER_COMM = 'tl-server';

/** A running tracer and every session it has delivered so far (in `events`). */
export type Capture = EventCapture<TcpSession, TcplifeTracer>;

export function capture(opts: TcplifeOptions = {}): Capture {
  return collect<TcpSession, TcplifeTracer>(tcplife(opts));
}

/** The workload binaries (compiled once per test process). */
export interface Bins {
  server: string;
  client: string;
  /** test/c/tcpstorm.c */
  storm: string;
  /** test/c/prefork.c */
  prefork: string;
}

/** The prefork server (test/c/prefork.c), shared with the other TCP tools' tests. */
export const PREFORK_SRC = new URL('./c/prefork.c', import.meta.url);

export function buildBins(): Bins {
  const sess = new URL('./c/tcpsess.c', import.meta.url);
  return {
    server: compileC(sess, { name: SERVER_COMM }),
    client: compileC(sess, { name: CLIENT_NAME }),
    storm: compileC(new URL('./c/tcpstorm.c', import.meta.url), { flags: ['-O2'] }),
    prefork: compileC(PREFORK_SRC),
  };
}

export type Family = 4 | 6;
export const LOOPBACK: Record<Family, string> = { 4: '127.0.0.1', 6: '::1' };

export interface SessionSpec {
  family: Family;
  /** bytes the client sends, and the server replies */
  send: number;
  reply: number;
  /** who closes first: the client (after sleeping `sleepMs`), the server (same), or the client with an RST */
  closer: 'client' | 'server' | 'reset';
  sleepMs: number;
  /** Runs the client under `sh -c 'read x; exec client'`: it connects once `go()` is called (its PID is known before). */
  gated?: boolean;
}

export interface SessionRun {
  server: { pid: number; port: number };
  client: { pid: number; lport: number };
}

/** A started server, listening. */
export async function startServer(bins: Bins, spec: SessionSpec): Promise<{ proc: Child; port: number }> {
  const close = spec.closer === 'server' ? 'first' : 'second';
  const proc = start(bins.server, ['server', String(spec.family), LOOPBACK[spec.family], '0', String(spec.send), String(spec.reply), close, String(spec.sleepMs)]);
  const port = Number((await proc.line('listening ')).split(' ')[1]);
  return { proc, port };
}

/** The client, gated or not. */
export function startClient(bins: Bins, spec: SessionSpec, port: number): { proc: Child; go: () => void } {
  const close = spec.closer === 'server' ? 'second' : spec.closer === 'reset' ? 'reset' : 'first';
  const args = ['client', String(spec.family), LOOPBACK[spec.family], String(port), String(spec.send), String(spec.reply), close, String(spec.sleepMs)];
  if (!spec.gated) return { proc: start(bins.client, args), go: () => {} };
  const proc = start('/bin/sh', ['-c', 'read x; exec "$0" "$@"', bins.client, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  return { proc, go: () => proc.end('go\n') };
}

/** One whole session: server, client, both exited. */
export async function runSession(bins: Bins, spec: SessionSpec): Promise<SessionRun> {
  const server = await startServer(bins, spec);
  const client = startClient(bins, spec, server.port);
  client.go();
  const lport = Number((await client.proc.line('client ')).split(' ')[1]);
  const [{ code: sc }, { code: cc }] = await Promise.all([server.proc.done, client.proc.done]);
  if (sc !== 0 || cc !== 0) throw new Error(`workload failed: server ${sc}, client ${cc}`);
  return { server: { pid: server.proc.pid, port: server.port }, client: { pid: client.proc.pid, lport } };
}

/** A port nothing listens on (bound, then closed), and a client refused there. */
export async function runRefused(bins: Bins, family: Family): Promise<{ pid: number; port: number }> {
  const server = await startServer(bins, { family, send: 0, reply: 0, closer: 'client', sleepMs: 0 });
  // The listener exists; kill it and reuse its port, now closed.
  server.proc.kill('SIGKILL');
  await server.proc.done;
  const client = start(bins.client, ['client', String(family), LOOPBACK[family], String(server.port), '1000', '0', 'first', '0']);
  const { code } = await client.done;
  if (code !== 3) throw new Error(`expected a refused connection, client exited ${code}: ${client.stdout}`);
  return { pid: client.pid, port: server.port };
}

/** The session of `run`'s client (active) or server (passive) side. */
export const clientSide = (r: SessionRun) => (s: TcpSession) => s.lport === r.client.lport && s.rport === r.server.port;
export const serverSide = (r: SessionRun) => (s: TcpSession) => s.lport === r.server.port && s.rport === r.client.lport;

export interface StormRun {
  port: number;
  serverPid: number;
  clientPid: number;
}

/** `n` sessions in a row from test/c/tcpstorm.c, `bytes` each way; resolves when it has exited. */
export async function runStorm(bins: Bins, n: number, bytes: number, family: Family = 4): Promise<StormRun> {
  const p = start(bins.storm, [String(n), String(bytes), String(family)]);
  const [, port, , serverPid, , clientPid] = (await p.line('port ')).split(' ');
  const { code } = await p.done;
  if (code !== 0) throw new Error(`tcpstorm exited ${code}: ${p.stdout}`);
  return { port: Number(port), serverPid: Number(serverPid), clientPid: Number(clientPid) };
}

/** Sessions of a storm: server side (local port = the storm's) or client side (remote port). */
export const ofStorm = (r: StormRun) => (s: TcpSession) => s.lport === r.port || s.rport === r.port;

export interface PreforkRun {
  /** the listening port, and the parent: it listened and was every client */
  port: number;
  masterPid: number;
  /** the client's local port of each connection, in order */
  clients: number[];
  /** client port → the PID of the worker that accept()ed that connection */
  workerOf: Map<number, number>;
}

/**
 * A prefork server (test/c/prefork.c): the parent listens, `workers` forked
 * children accept one connection each (0: nobody accepts, one connection),
 * the parent connects and ends each connection with a FIN or an RST.
 */
export async function runPrefork(bin: string, family: Family, workers: number, mode: 'close' | 'reset'): Promise<PreforkRun> {
  const p = start(bin, [String(family), String(workers), mode]);
  const { code, stdout } = await p.done;
  if (code !== 0) throw new Error(`prefork exited ${code}: ${stdout}`);
  const lines = stdout.split('\n').map((l) => l.split(' '));
  const [, port, masterPid] = lines.find((l) => l[0] === 'listening')!;
  const workerOf = new Map(lines.filter((l) => l[0] === 'accepted').map((l) => [Number(l[3]), Number(l[1])] as const));
  const clients = lines.filter((l) => l[0] === 'client').map((l) => Number(l[1]));
  return { port: Number(port), masterPid: Number(masterPid), clients, workerOf };
}
