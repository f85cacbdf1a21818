// tcpstates' API against the running kernel: real BPF, real TCP sessions over
// loopback between programs the tests start; each socket's changes are found
// by its ports (the machine may carry other TCP traffic at the same time).
import { readFileSync } from 'node:fs';
import { describe, it, expect, afterEach } from 'vitest';
import type { TcpStateChange } from '../src/index.js';
import {
  CLIENT_COMM, LOOPBACK, SERVER_COMM, buildBins, capture, closed, expectChained, lifeOf, moves, runSession, runStorm, startClient, startServer,
  type Capture, type Family, type SessionRun,
} from './helpers.js';
import { bpfFdTargets } from '../../../test/support/bpf.js';
import { expectCleanLife } from '../../../test/support/lifecycle.js';
import { waitFor } from '../../../test/support/wait.js';
import { killChildren } from '../../../test/support/workload.js';
import { builtBeforeAll } from '../../../test/support/once.js';

const bins = builtBeforeAll(buildBins);
afterEach(() => killChildren());

/** Waits until both sides of `run` reached CLOSE; returns their lives. */
async function sides(c: Capture, run: SessionRun): Promise<{ client: TcpStateChange[]; server: TcpStateChange[] }> {
  const lives = () => ({ client: lifeOf(c.events, run.client.lport, run.server.port), server: lifeOf(c.events, run.server.port, run.client.lport) });
  const done = await waitFor(() => {
    c.tracer.flush();
    const l = lives();
    return closed(l.client) && closed(l.server);
  });
  expect(done, 'both sockets reach CLOSE').toBe(true);
  return lives();
}

/** Every change of a life: addresses, ports (0 before connect() picked one), family, and who. */
function expectLife(life: TcpStateChange[], family: Family, who: Array<[number, string, string]>, lport: number, rport: number): void {
  const addr = LOOPBACK[family];
  const raddr = rport ? addr : family === 4 ? '0.0.0.0' : '::'; // a listener has no peer
  expect(life.map((c) => [c.pid, c.comm, c.owner])).toEqual(who);
  for (const c of life) {
    expect([c.family, c.laddr, c.raddr, c.rport]).toEqual([family, addr, raddr, rport]);
    expect(c.lport === lport || (c.lport === 0 && c.oldState === 'CLOSE')).toBe(true);
    expect(c.skaddr).toBe(life[0]!.skaddr);
  }
  expectChained(life);
}

describe('state changes', () => {
  it('IPv4, the client closes first: every change of both sockets and the listener, owners, exact spans', async () => {
    const c = capture();
    try {
      const t0 = process.hrtime.bigint();
      const run = await runSession(bins, { family: 4, send: 1000, reply: 1000, closer: 'client', sleepMs: 200 });
      const { client, server } = await sides(c, run);
      const C: [number, string, string] = [run.client.pid, CLIENT_COMM, 'task'];
      expect(moves(client)).toEqual(['CLOSE->SYN_SENT', 'SYN_SENT->ESTABLISHED', 'ESTABLISHED->FIN_WAIT1', 'FIN_WAIT1->FIN_WAIT2', 'FIN_WAIT2->CLOSE']);
      expectLife(client, 4, [C, C, C, C, C], run.client.lport, run.server.port);
      // the server socket: the listener's until accept(), then the acceptor's, then its system calls'
      const S = (owner: string): [number, string, string] => [run.server.pid, SERVER_COMM, owner];
      expect(moves(server)).toEqual(['LISTEN->SYN_RECV', 'SYN_RECV->ESTABLISHED', 'ESTABLISHED->CLOSE_WAIT', 'CLOSE_WAIT->LAST_ACK', 'LAST_ACK->CLOSE']);
      expectLife(server, 4, [S('listener'), S('listener'), S('accept'), S('task'), S('task')], run.server.port, run.client.lport);
      // the client slept 200 ms before closing
      expect(client[2]!.spanNs!).toBeGreaterThanOrEqual(200e6);
      expect(server[2]!.spanNs!).toBeGreaterThanOrEqual(200e6);
      for (const x of [...client, ...server]) expect(x.timestamp > t0 && x.timestamp < process.hrtime.bigint()).toBe(true);
      // the listener: listen(), and close() after the accept
      const listener = lifeOf(c.events, run.server.port, 0);
      expect(moves(listener)).toEqual(['CLOSE->LISTEN', 'LISTEN->CLOSE']);
      expectLife(listener, 4, [S('task'), S('task')], run.server.port, 0);
    } finally {
      c.close();
    }
  });

  it('IPv6, the server closes first', async () => {
    const c = capture();
    try {
      const run = await runSession(bins, { family: 6, send: 10, reply: 10, closer: 'server', sleepMs: 100 });
      const { client, server } = await sides(c, run);
      const C: [number, string, string] = [run.client.pid, CLIENT_COMM, 'task'];
      const S = (owner: string): [number, string, string] => [run.server.pid, SERVER_COMM, owner];
      expect(moves(server)).toEqual(['LISTEN->SYN_RECV', 'SYN_RECV->ESTABLISHED', 'ESTABLISHED->FIN_WAIT1', 'FIN_WAIT1->FIN_WAIT2', 'FIN_WAIT2->CLOSE']);
      expectLife(server, 6, [S('listener'), S('listener'), S('task'), S('task'), S('task')], run.server.port, run.client.lport);
      expect(moves(client)).toEqual(['CLOSE->SYN_SENT', 'SYN_SENT->ESTABLISHED', 'ESTABLISHED->CLOSE_WAIT', 'CLOSE_WAIT->LAST_ACK', 'LAST_ACK->CLOSE']);
      expectLife(client, 6, [C, C, C, C, C], run.client.lport, run.server.port);
      expect(server[2]!.spanNs!).toBeGreaterThanOrEqual(100e6);
    } finally {
      c.close();
    }
  });

  it('reset by the client: the server socket goes ESTABLISHED -> CLOSE under the process that accepted it', async () => {
    const c = capture();
    try {
      const run = await runSession(bins, { family: 4, send: 10, reply: 10, closer: 'reset', sleepMs: 0 });
      const { client, server } = await sides(c, run);
      expect(moves(client).at(-1)).toBe('ESTABLISHED->CLOSE');
      expect(moves(server)).toEqual(['LISTEN->SYN_RECV', 'SYN_RECV->ESTABLISHED', 'ESTABLISHED->CLOSE']);
      expect(server.map((x) => x.owner)).toEqual(['listener', 'listener', 'accept']);
      expect(server.every((x) => x.pid === run.server.pid)).toBe(true);
    } finally {
      c.close();
    }
  });
});

/** Every port the kernel may pick for connect() (net.ipv4.ip_local_port_range). */
function ephemeralPorts(): number[] {
  const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number) as [number, number];
  return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
}

describe('filters (in-kernel)', () => {
  it('localPorts, remotePorts (a port not known yet is not shown, but its time counts), family', async () => {
    const spec = { family: 4 as const, send: 1, reply: 1, closer: 'client' as const, sleepMs: 0 };
    const sv = await startServer(bins, spec); // listening before the trace: its port is known
    // -L with every ephemeral port: the client's local port is among them, but
    // not known at CLOSE -> SYN_SENT (connect() picks it after that change)
    const byL = capture({ localPorts: ephemeralPorts() });
    const byD = capture({ remotePorts: [2, sv.port] });
    const all = capture();
    const v6 = capture({ family: 6 });
    try {
      const cl = startClient(bins, spec, sv.port);
      const lport = Number((await cl.proc.line('client ')).split(' ')[1]);
      await Promise.all([sv.proc.done, cl.proc.done]);
      const later = await runSession(bins, { ...spec, family: 6 });
      const ended = (c: Capture, port: number, n: number) => c.waitForCount((x) => x.newState === 'CLOSE' && (x.lport === port || x.rport === port), n);
      await ended(all, sv.port, 3); // client, server, listener
      await ended(v6, later.server.port, 3);
      await ended(byL, sv.port, 1);
      await ended(byD, sv.port, 1);
      await Promise.all([byL.settled(() => true), byD.settled(() => true), all.settled(() => true), v6.settled(() => true)]);

      const full = lifeOf(all.events, lport, sv.port);
      expect(moves(full)).toEqual(['CLOSE->SYN_SENT', 'SYN_SENT->ESTABLISHED', 'ESTABLISHED->FIN_WAIT1', 'FIN_WAIT1->FIN_WAIT2', 'FIN_WAIT2->CLOSE']);
      // -L: CLOSE -> SYN_SENT (local port 0) is not shown, yet SYN_SENT -> ESTABLISHED
      // has its span (BCC drops the socket there and prints 0)
      const local = lifeOf(byL.events, lport, sv.port);
      expect(moves(local)).toEqual(moves(full).slice(1));
      expect(local[0]!.spanNs).toBeGreaterThan(0);
      expect(local[0]!.spanNs).toBeLessThan(10e9);
      expect(byL.events.every((x) => x.lport !== 0)).toBe(true);
      // -D: every change of the client (its remote port is known from the start), nothing with another remote port
      expect(moves(lifeOf(byD.events, lport, sv.port))).toEqual(moves(full));
      expect(byD.events.every((x) => x.rport === sv.port)).toBe(true);
      // family
      expect(v6.events.every((x) => x.family === 6 && x.laddr.includes(':'))).toBe(true);
      expect(v6.events.filter((x) => x.lport === later.server.port || x.rport === later.server.port).length).toBeGreaterThanOrEqual(12);
      expect(v6.events.filter((x) => x.lport === sv.port || x.rport === sv.port)).toEqual([]);
    } finally {
      for (const c of [byL, byD, all, v6]) c.close();
    }
  });

  it('rejects bad options before loading anything', () => {
    const before = bpfFdTargets();
    expect(() => capture({ localPorts: [] })).toThrow(/localPorts must be a non-empty array/);
    expect(() => capture({ localPorts: [80, 65536] })).toThrow(/localPorts: 65536 is not a port/);
    expect(() => capture({ remotePorts: [0] })).toThrow(/remotePorts: 0 is not a port/);
    expect(() => capture({ family: 5 as 4 })).toThrow(/family must be 4 or 6/);
    expect(() => capture({ ringBytes: 5000 })).toThrow(/power of two/);
    expect(() => capture({ pid: 1 } as object)).toThrow(/pid/);
    expect(bpfFdTargets()).toEqual(before);
  });
});

describe('lifecycle', () => {
  it('close() is idempotent, ends for await after delivering what was buffered, and frees every BPF fd', async () => {
    // 3 links: inet_sock_set_state, sys_exit_accept4, sys_exit_accept
    const session = () => runSession(bins, { family: 4, send: 10, reply: 10, closer: 'client', sleepMs: 0 });
    const { tracer, seen, result: run } = await expectCleanLife(() => capture().tracer, 3, session);
    expect(closed(lifeOf(seen, run.client.lport, run.server.port))).toBe(true);
    expect(closed(lifeOf(seen, run.server.port, run.client.lport))).toBe(true);
    expect(tracer.lost()).toEqual({ ring: 0 });
  });

  it('a storm of 1000 connections: every socket from its first change to CLOSE, spans chained, owners right', async () => {
    const c = capture({ family: 4 });
    try {
      const r = await runStorm(bins, 1000, 100);
      const mine = (x: TcpStateChange) => x.lport === r.port || x.rport === r.port;
      await c.waitForCount((x) => mine(x) && x.newState === 'CLOSE', 2000, 15_000);
      const events = await c.settled(() => true);
      expect(c.tracer.lost().ring).toBe(0);
      const servers = events.filter((x) => x.lport === r.port && x.newState === 'SYN_RECV');
      const clients = events.filter((x) => x.rport === r.port && x.oldState === 'CLOSE');
      expect(servers).toHaveLength(1000);
      expect(clients).toHaveLength(1000);
      for (const first of servers) {
        const life = lifeOf(events, r.port, first.rport);
        expect(closed(life)).toBe(true);
        expectChained(life);
        // before accept(): the parent, which listened; after it: the forked server that accepted
        expect(life[0]!.pid).toBe(r.clientPid);
        expect(life.at(-1)!.pid).toBe(r.serverPid);
      }
      for (const first of clients) {
        const est = events.find((x) => x.skaddr === first.skaddr && x.oldState === 'SYN_SENT' && x.timestamp > first.timestamp)!;
        const life = lifeOf(events, est.lport, r.port);
        expect(life[0]).toBe(first);
        expect(closed(life)).toBe(true);
        expectChained(life);
        expect(life.every((x) => x.pid === r.clientPid && x.owner === 'task')).toBe(true);
      }
    } finally {
      c.close();
    }
  });
});
