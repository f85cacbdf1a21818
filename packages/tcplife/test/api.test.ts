// tcplife's API against the running kernel: real BPF, real TCP sessions over
// loopback between two programs the tests start, sessions matched by their
// ports (the machine may carry other TCP traffic at the same time).
import { describe, it, expect, afterEach } from 'vitest';
import { type TcpSession } from '../src/index.js';
import {
  CLIENT_COMM, SERVER_COMM, LOOPBACK, buildBins, capture, clientSide, ofStorm, runRefused, runSession, runStorm, serverSide,
  startClient, startServer, type Family, type SessionRun,
} from './helpers.js';
import { bpfFdTargets } from '../../../test/support/bpf.js';
import { expectCleanLife } from '../../../test/support/lifecycle.js';
import { sleep } from '../../../test/support/wait.js';
import { killChildren } from '../../../test/support/workload.js';
import { builtBeforeAll } from '../../../test/support/once.js';

const bins = builtBeforeAll(buildBins);
afterEach(() => killChildren());

const SEND = 300_000;
const REPLY = 50_000;

/** The two sessions of one run, each checked field by field. */
function expectPair(
  run: SessionRun,
  sessions: TcpSession[],
  family: Family,
  opts: { send: number; reply: number; minMs: number; serverOwner?: 'task' | 'accept' | 'listener' },
): void {
  const addr = LOOPBACK[family];
  const client = sessions.filter(clientSide(run));
  const server = sessions.filter(serverSide(run));
  expect(client).toHaveLength(1);
  expect(server).toHaveLength(1);
  const c = client[0]!;
  const s = server[0]!;
  expect(c).toEqual({
    timestamp: c.timestamp,
    pid: run.client.pid,
    comm: CLIENT_COMM,
    owner: 'task',
    active: true,
    family,
    laddr: addr,
    lport: run.client.lport,
    raddr: addr,
    rport: run.server.port,
    txBytes: opts.send,
    rxBytes: opts.reply,
    durationNs: c.durationNs,
  });
  expect(s).toEqual({
    timestamp: s.timestamp,
    pid: run.server.pid,
    comm: SERVER_COMM,
    owner: opts.serverOwner ?? 'task',
    active: false,
    family,
    laddr: addr,
    lport: run.server.port,
    raddr: addr,
    rport: run.client.lport,
    txBytes: opts.reply,
    rxBytes: opts.send,
    durationNs: s.durationNs,
  });
  for (const x of [c, s]) {
    expect(x.durationNs).toBeGreaterThanOrEqual(opts.minMs * 1e6);
    expect(x.durationNs).toBeLessThan(10e9);
  }
}

describe('sessions', () => {
  it('IPv4, the client closes first: both sides, exact bytes, owners, duration', async () => {
    const c = capture();
    try {
      const t0 = process.hrtime.bigint();
      const run = await runSession(bins, { family: 4, send: SEND, reply: REPLY, closer: 'client', sleepMs: 200 });
      const t1 = process.hrtime.bigint();
      await c.waitForCount((s) => clientSide(run)(s) || serverSide(run)(s), 2);
      expectPair(run, c.events, 4, { send: SEND, reply: REPLY, minMs: 200 });
      for (const s of c.events.filter((x) => clientSide(run)(x) || serverSide(run)(x))) {
        // CLOCK_MONOTONIC, the clock of process.hrtime.bigint()
        expect(s.timestamp > t0 && s.timestamp < t1).toBe(true);
        // the session began after the run started
        expect(s.timestamp - BigInt(s.durationNs) > t0).toBe(true);
      }
    } finally {
      c.close();
    }
  });

  it('IPv6, the server closes first: still reported under the server (BCC: the client, or pid 0)', async () => {
    const c = capture();
    try {
      const run = await runSession(bins, { family: 6, send: SEND, reply: REPLY, closer: 'server', sleepMs: 200 });
      await c.waitForCount((s) => clientSide(run)(s) || serverSide(run)(s), 2);
      expectPair(run, c.events, 6, { send: SEND, reply: REPLY, minMs: 200 });
    } finally {
      c.close();
    }
  });

  it('reset by the client: the server side never closes in a system call; its owner is the process that accept()ed it', async () => {
    const c = capture();
    try {
      for (const family of [4, 6] as const) {
        const run = await runSession(bins, { family, send: SEND, reply: REPLY, closer: 'reset', sleepMs: 100 });
        await c.waitForCount((s) => clientSide(run)(s) || serverSide(run)(s), 2);
        expectPair(run, c.events, family, { send: SEND, reply: REPLY, minMs: 100, serverOwner: 'accept' });
      }
    } finally {
      c.close();
    }
  });

  it('bytes are payload: SYN and FIN are not counted (the kernel counters include them)', async () => {
    const c = capture();
    try {
      // 3071 = 3 KiB - 1: with SYN and FIN, bytes_acked would be 3073
      const run = await runSession(bins, { family: 4, send: 3071, reply: 1023, closer: 'client', sleepMs: 0 });
      const run0 = await runSession(bins, { family: 6, send: 0, reply: 0, closer: 'server', sleepMs: 0 });
      await c.waitForCount((s) => clientSide(run)(s) || serverSide(run)(s) || clientSide(run0)(s) || serverSide(run0)(s), 4);
      expectPair(run, c.events, 4, { send: 3071, reply: 1023, minMs: 0 });
      expectPair(run0, c.events, 6, { send: 0, reply: 0, minMs: 0 });
    } finally {
      c.close();
    }
  });

  it('a refused connection is no session: nothing reported (BCC prints a line with 0 bytes)', async () => {
    const c = capture();
    try {
      const refused4 = await runRefused(bins, 4);
      const refused6 = await runRefused(bins, 6);
      // a later session: the refused ones would have been delivered by then
      const run = await runSession(bins, { family: 4, send: 10, reply: 10, closer: 'client', sleepMs: 0 });
      await c.waitForCount((s) => clientSide(run)(s) || serverSide(run)(s), 2);
      await sleep(100);
      c.tracer.flush();
      for (const r of [refused4, refused6]) {
        expect(c.events.filter((s) => s.pid === r.pid || s.rport === r.port || s.lport === r.port)).toEqual([]);
      }
    } finally {
      c.close();
    }
  });

  it('sessions opened before the trace started are not reported (their birth is unknown)', async () => {
    const spec = { family: 4 as const, send: 100, reply: 100, closer: 'client' as const, sleepMs: 600 };
    const server = await startServer(bins, spec);
    const client = startClient(bins, spec, server.port);
    const lport = Number((await client.proc.line('client ')).split(' ')[1]);
    const c = capture(); // the session is established and waiting
    try {
      await Promise.all([server.proc.done, client.proc.done]);
      const run = { server: { pid: server.proc.pid, port: server.port }, client: { pid: client.proc.pid, lport } };
      const later = await runSession(bins, { family: 4, send: 10, reply: 10, closer: 'client', sleepMs: 0 });
      await c.waitForCount((s) => clientSide(later)(s) || serverSide(later)(s), 2);
      expect(c.events.filter((s) => clientSide(run)(s) || serverSide(run)(s))).toEqual([]);
    } finally {
      c.close();
    }
  });
});

describe('filters (in-kernel)', () => {
  it('pid: only sessions owned by that process (client side, then server side)', async () => {
    const spec = { family: 4 as const, send: 2000, reply: 1000, closer: 'client' as const, sleepMs: 0 };
    // client: its PID is known before it connects (sh ... exec)
    let server = await startServer(bins, spec);
    const client = startClient(bins, { ...spec, gated: true }, server.port);
    const byClient = capture({ pid: client.proc.pid });
    // server: already listening, so its PID is known
    const server2 = await startServer(bins, spec);
    const byServer = capture({ pid: server2.proc.pid });
    try {
      client.go();
      const lport = Number((await client.proc.line('client ')).split(' ')[1]);
      await Promise.all([server.proc.done, client.proc.done]);
      const run1 = { server: { pid: server.proc.pid, port: server.port }, client: { pid: client.proc.pid, lport } };
      const c2 = startClient(bins, spec, server2.port);
      const lport2 = Number((await c2.proc.line('client ')).split(' ')[1]);
      await Promise.all([server2.proc.done, c2.proc.done]);
      const run2 = { server: { pid: server2.proc.pid, port: server2.port }, client: { pid: c2.proc.pid, lport: lport2 } };

      const s1 = await byClient.waitFor(clientSide(run1));
      const s2 = await byServer.waitFor(serverSide(run2));
      expect([s1.pid, s1.comm, s1.txBytes, s1.rxBytes]).toEqual([client.proc.pid, CLIENT_COMM, 2000, 1000]);
      expect([s2.pid, s2.comm, s2.txBytes, s2.rxBytes]).toEqual([server2.proc.pid, SERVER_COMM, 1000, 2000]);
      // a later session by another process: would be there by now
      const other = await runSession(bins, spec);
      await sleep(200);
      byClient.tracer.flush();
      byServer.tracer.flush();
      expect(byClient.events.every((s) => s.pid === client.proc.pid)).toBe(true);
      expect(byServer.events.every((s) => s.pid === server2.proc.pid)).toBe(true);
      expect(byClient.events.filter((s) => serverSide(run1)(s) || clientSide(other)(s) || serverSide(other)(s))).toEqual([]);
      server = server2;
    } finally {
      byClient.close();
      byServer.close();
    }
  });

  it('localPorts, remotePorts, family', async () => {
    const spec4 = { family: 4 as const, send: 500, reply: 500, closer: 'client' as const, sleepMs: 0 };
    const spec6 = { ...spec4, family: 6 as const };
    // servers first, so their ports are known to the filters
    const sv4 = await startServer(bins, spec4);
    const sv6 = await startServer(bins, spec6);
    const local = capture({ localPorts: [1, sv4.port, 65535] });
    const remote = capture({ remotePorts: [sv6.port, 2] });
    const v4 = capture({ family: 4 });
    const v6 = capture({ family: 6 });
    try {
      const runs: SessionRun[] = [];
      for (const [sv, spec] of [[sv4, spec4], [sv6, spec6]] as const) {
        const cl = startClient(bins, spec, sv.port);
        const lport = Number((await cl.proc.line('client ')).split(' ')[1]);
        await Promise.all([sv.proc.done, cl.proc.done]);
        runs.push({ server: { pid: sv.proc.pid, port: sv.port }, client: { pid: cl.proc.pid, lport } });
      }
      const [r4, r6] = runs as [SessionRun, SessionRun];
      const mine = (s: TcpSession) => [r4, r6].some((r) => clientSide(r)(s) || serverSide(r)(s));
      await local.waitFor(serverSide(r4));
      await remote.waitFor(clientSide(r6));
      await v4.waitForCount((s) => clientSide(r4)(s) || serverSide(r4)(s), 2);
      await v6.waitForCount((s) => clientSide(r6)(s) || serverSide(r6)(s), 2);
      await sleep(100);
      for (const c of [local, remote, v4, v6]) c.tracer.flush();
      expect(local.events.filter(mine).map((s) => [s.lport, s.pid])).toEqual([[sv4.port, sv4.proc.pid]]);
      expect(remote.events.filter(mine).map((s) => [s.rport, s.pid])).toEqual([[sv6.port, r6.client.pid]]);
      expect(local.events.every((s) => s.lport === sv4.port)).toBe(true);
      expect(remote.events.every((s) => s.rport === sv6.port)).toBe(true);
      expect(v4.events.filter(mine)).toHaveLength(2);
      expect(v6.events.filter(mine)).toHaveLength(2);
      expect(v4.events.every((s) => s.family === 4 && !s.laddr.includes(':'))).toBe(true);
      expect(v6.events.every((s) => s.family === 6 && s.laddr.includes(':'))).toBe(true);
    } finally {
      for (const c of [local, remote, v4, v6]) c.close();
    }
  });

  it('rejects bad options before loading anything', () => {
    const before = bpfFdTargets();
    expect(() => capture({ pid: 0 })).toThrow(/pid must be a positive integer/);
    expect(() => capture({ pid: 1.5 })).toThrow(/pid must be a positive integer/);
    expect(() => capture({ localPorts: [] })).toThrow(/localPorts must be a non-empty array/);
    expect(() => capture({ localPorts: [80, 65536] })).toThrow(/localPorts: 65536 is not a port/);
    expect(() => capture({ remotePorts: [0] })).toThrow(/remotePorts: 0 is not a port/);
    expect(() => capture({ family: 5 as 4 })).toThrow(/family must be 4 or 6/);
    expect(() => capture({ ringBytes: 5000 })).toThrow(/power of two/);
    expect(bpfFdTargets()).toEqual(before);
  });
});

describe('lifecycle', () => {
  it('close() is idempotent, ends for await after delivering what was buffered, and frees every BPF fd', async () => {
    // 3 links: inet_sock_set_state, sys_exit_accept4, sys_exit_accept
    const session = () => runSession(bins, { family: 4, send: 10, reply: 10, closer: 'client', sleepMs: 0 });
    const { tracer, seen, result: run } = await expectCleanLife(() => capture().tracer, 3, session);
    expect(seen.filter((s) => clientSide(run)(s) || serverSide(run)(s))).toHaveLength(2);
    expect(tracer.lost()).toEqual({ ring: 0 });
    expect(tracer.untracked()).toBe(0);
  });

  it('a storm of 2000 connections: all 4000 sessions captured, exact, nothing lost', async () => {
    const c = capture({ family: 4 });
    try {
      const r = await runStorm(bins, 2000, 100);
      const mine = await c.waitForCount(ofStorm(r), 4000, 15_000);
      await sleep(100);
      c.tracer.flush();
      expect(c.events.filter(ofStorm(r))).toHaveLength(4000);
      expect(c.tracer.lost().ring).toBe(0);
      expect(c.tracer.untracked()).toBe(0);
      const server = mine.filter((s) => s.lport === r.port);
      const client = mine.filter((s) => s.rport === r.port);
      expect(server).toHaveLength(2000);
      expect(client).toHaveLength(2000);
      expect(new Set(client.map((s) => s.lport)).size).toBe(2000);
      for (const s of server) {
        expect([s.pid, s.comm, s.owner, s.active, s.txBytes, s.rxBytes]).toEqual([r.serverPid, 'tcpstorm', 'task', false, 100, 100]);
      }
      for (const s of client) {
        expect([s.pid, s.comm, s.owner, s.active, s.txBytes, s.rxBytes]).toEqual([r.clientPid, 'tcpstorm', 'task', true, 100, 100]);
      }
    } finally {
      c.close();
    }
  });
});
