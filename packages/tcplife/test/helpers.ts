// Shared by the tcplife tests: a tracer that collects sessions, and loopback
// TCP sessions with known byte counts and timing between two small C
// programs (test/c/tcpsess.c) built under two names, so the client and the
// server side each have their own PID and comm.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tcplife, type TcplifeOptions, type TcplifeTracer, type TcpSession } from '../src/index.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The client binary's name: 17 characters, so the kernel keeps 15 ("tl-client_long_"). */
export const CLIENT_NAME = 'tl-client_long_name';
export const CLIENT_COMM = 'tl-client_long_';
export const SERVER_COMM = 'tl-server';

/** A running tracer and every session it has delivered so far. */
export interface Capture {
  tracer: TcplifeTracer;
  sessions: TcpSession[];
  /** Resolves once `n` sessions match `pred`; rejects after `ms`. */
  waitForCount(pred: (s: TcpSession) => boolean, n: number, ms?: number): Promise<TcpSession[]>;
  waitFor(pred: (s: TcpSession) => boolean, ms?: number): Promise<TcpSession>;
  close(): void;
}

export function capture(opts: TcplifeOptions = {}): Capture {
  const tracer = tcplife(opts);
  const sessions: TcpSession[] = [];
  tracer.subscribe((batch) => {
    for (const s of batch) sessions.push(s);
  });
  const waitForCount = async (pred: (s: TcpSession) => boolean, n: number, ms = 8000): Promise<TcpSession[]> => {
    const deadline = Date.now() + ms;
    for (;;) {
      tracer.flush();
      const found = sessions.filter(pred);
      if (found.length >= n) return found;
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${n} sessions (have ${found.length} of ${sessions.length} seen)`);
      }
      await sleep(20);
    }
  };
  return {
    tracer,
    sessions,
    waitForCount,
    waitFor: async (pred, ms) => (await waitForCount(pred, 1, ms))[0]!,
    close: () => tracer.close(),
  };
}

/** The workload binaries, built once per test file. */
export interface Bins {
  server: string;
  client: string;
  /** test/c/tcpstorm.c */
  storm: string;
  cleanup(): void;
}

export function buildBins(): Bins {
  const dir = mkdtempSync(join(tmpdir(), 'tcplife-test-'));
  const server = join(dir, SERVER_COMM);
  const client = join(dir, CLIENT_NAME);
  const src = new URL('./c/tcpsess.c', import.meta.url).pathname;
  execFileSync('gcc', ['-O1', '-Wall', '-o', server, src], { stdio: ['ignore', 'ignore', 'pipe'] });
  copyFileSync(server, client);
  const storm = join(dir, 'tcpstorm');
  execFileSync('gcc', ['-O2', '-Wall', '-o', storm, new URL('./c/tcpstorm.c', import.meta.url).pathname], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return { server, client, storm, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export type Family = 4 | 6;
export const LOOPBACK: Record<Family, string> = { 4: '127.0.0.1', 6: '::1' };

export interface Proc {
  pid: number;
  child: ChildProcess;
  stdout: string;
  exited: Promise<number | null>;
  /** Resolves with the first stdout line starting with `prefix`. */
  line(prefix: string, ms?: number): Promise<string>;
}

const live = new Set<ChildProcess>();

/** Kills every workload process still running (after a failed test). */
export function killWorkloads(): void {
  for (const c of live) c.kill('SIGKILL');
  live.clear();
}

export function start(file: string, args: string[], stdin: 'ignore' | 'pipe' = 'ignore'): Proc {
  const child = spawn(file, args, { stdio: [stdin, 'pipe', 'inherit'] });
  live.add(child);
  child.on('close', () => live.delete(child));
  const p: Proc = {
    pid: child.pid!,
    child,
    stdout: '',
    exited: new Promise((r) => child.on('close', (code) => r(code))),
    line: async (prefix, ms = 8000) => {
      const deadline = Date.now() + ms;
      for (;;) {
        const l = p.stdout.split('\n').find((x) => x.startsWith(prefix));
        if (l !== undefined) return l;
        if (Date.now() > deadline) throw new Error(`${file}: no "${prefix}" line; stdout: ${p.stdout}`);
        await sleep(10);
      }
    },
  };
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (p.stdout += d));
  return p;
}

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
export async function startServer(bins: Bins, spec: SessionSpec): Promise<{ proc: Proc; port: number }> {
  const close = spec.closer === 'server' ? 'first' : 'second';
  const proc = start(bins.server, ['server', String(spec.family), LOOPBACK[spec.family], '0', String(spec.send), String(spec.reply), close, String(spec.sleepMs)]);
  const port = Number((await proc.line('listening ')).split(' ')[1]);
  return { proc, port };
}

/** The client, gated or not. */
export function startClient(bins: Bins, spec: SessionSpec, port: number): { proc: Proc; go: () => void } {
  const close = spec.closer === 'server' ? 'second' : spec.closer === 'reset' ? 'reset' : 'first';
  const args = ['client', String(spec.family), LOOPBACK[spec.family], String(port), String(spec.send), String(spec.reply), close, String(spec.sleepMs)];
  if (!spec.gated) return { proc: start(bins.client, args), go: () => {} };
  const proc = start('/bin/sh', ['-c', 'read x; exec "$0" "$@"', bins.client, ...args], 'pipe');
  return { proc, go: () => proc.child.stdin!.end('go\n') };
}

/** One whole session: server, client, both exited. */
export async function runSession(bins: Bins, spec: SessionSpec): Promise<SessionRun> {
  const server = await startServer(bins, spec);
  const client = startClient(bins, spec, server.port);
  client.go();
  const lport = Number((await client.proc.line('client ')).split(' ')[1]);
  const [sc, cc] = await Promise.all([server.proc.exited, client.proc.exited]);
  if (sc !== 0 || cc !== 0) throw new Error(`workload failed: server ${sc}, client ${cc}`);
  return { server: { pid: server.proc.pid, port: server.port }, client: { pid: client.proc.pid, lport } };
}

/** A port nothing listens on (bound, then closed), and a client refused there. */
export async function runRefused(bins: Bins, family: Family): Promise<{ pid: number; port: number }> {
  const server = await startServer(bins, { family, send: 0, reply: 0, closer: 'client', sleepMs: 0 });
  // The listener exists; kill it and reuse its port, now closed.
  server.proc.child.kill('SIGKILL');
  await server.proc.exited;
  const client = start(bins.client, ['client', String(family), LOOPBACK[family], String(server.port), '1000', '0', 'first', '0']);
  const code = await client.exited;
  if (code !== 3) throw new Error(`expected a refused connection, client exited ${code}: ${client.stdout}`);
  return { pid: client.pid, port: server.port };
}

/** The session of `run`'s client (active) or server (passive) side. */
export const clientSide = (r: SessionRun) => (s: TcpSession) => s.lport === r.client.lport && s.rport === r.server.port;
export const serverSide = (r: SessionRun) => (s: TcpSession) => s.lport === r.server.port && s.rport === r.client.lport;

/** Targets of this process's anonymous-inode fds that belong to BPF. */
export function bpfFds(): string[] {
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue;
    }
    if (/^anon_inode:(bpf|btf|\[perf_event\])/.test(target)) out.push(target);
  }
  return out.sort();
}

export interface StormRun {
  port: number;
  serverPid: number;
  clientPid: number;
}

/** `n` sessions in a row from test/c/tcpstorm.c, `bytes` each way; resolves when it has exited. */
export async function runStorm(bins: Bins, n: number, bytes: number, family: Family = 4): Promise<StormRun> {
  const p = start(bins.storm, [String(n), String(bytes), String(family)]);
  const [, port, , serverPid, , clientPid] = (await p.line('port ')).split(' ');
  const code = await p.exited;
  if (code !== 0) throw new Error(`tcpstorm exited ${code}: ${p.stdout}`);
  return { port: Number(port), serverPid: Number(serverPid), clientPid: Number(clientPid) };
}

/** Sessions of a storm: server side (local port = the storm's) or client side (remote port). */
export const ofStorm = (r: StormRun) => (s: TcpSession) => s.lport === r.port || s.rport === r.port;
