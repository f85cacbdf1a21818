// tcpconnlat's API against the running kernel: real BPF, real connects over
// loopback from programs the tests start; each connect is found by its ports
// (the machine may carry other TCP traffic at the same time).
import { describe, it, expect, afterEach } from 'vitest';
import { tcpconnlat, type TcpConnect } from '../src/index.js';
import { CLIENT_COMM, LOOPBACK, buildBins, capture, gatedConnect, runRefused, runStorm, type Family } from './helpers.js';
import { bpfFdTargets } from '../../../test/support/bpf.js';
import { compileC, killChildren, start } from '../../../test/support/workload.js';
import { builtBeforeAll } from '../../../test/support/once.js';

const bins = builtBeforeAll(buildBins);
afterEach(() => killChildren());

describe.each([4, 6] as Family[])('IPv%i', (family) => {
  it('a connect: the process that called connect(), addresses, ports, a latency; -p keeps only that process', async () => {
    const conn = await gatedConnect(bins, family);
    const all = capture({ family });
    const mine = capture({ pid: conn.pid });
    try {
      const t0 = process.hrtime.bigint();
      const lport = await conn.go();
      const storm = await runStorm(bins, 3, 10, family);
      const ev = await all.waitFor((e) => e.lport === lport && e.dport === conn.port);
      const addr = LOOPBACK[family];
      expect([ev.pid, ev.comm, ev.family, ev.saddr, ev.daddr, ev.refused]).toEqual([conn.pid, CLIENT_COMM, family, addr, addr, false]);
      expect(ev.latNs).toBeGreaterThan(0);
      expect(ev.timestamp > t0 && ev.timestamp < process.hrtime.bigint()).toBe(true);
      // the storm's three connects, by its client
      const stormed = await all.waitForCount((e) => e.dport === storm.port, 3);
      for (const e of stormed) expect([e.pid, e.comm]).toEqual([storm.clientPid, 'tcpstorm']);
      // -p: the client's connect, nothing else (the storm's events are already written: same tracepoint calls)
      const got = await mine.settled(() => true);
      expect(got.map((e) => [e.pid, e.lport, e.dport])).toEqual([[conn.pid, lport, conn.port]]);
      expect(got[0]!.latNs).toBeGreaterThan(0); // its own clock readings: not the same ns as `all`'s
      // the family filter: nothing of the other family in `all`
      expect(all.events.every((e) => e.family === family)).toBe(true);
    } finally {
      all.close();
      mine.close();
    }
  });
});

it('minMs: connects faster than the minimum are not reported', async () => {
  const conn = await gatedConnect(bins, 4);
  const all = capture();
  const slow = capture({ minMs: 60_000 });
  try {
    const lport = await conn.go();
    const ev = await all.waitFor((e) => e.lport === lport && e.dport === conn.port);
    expect(ev.latNs).toBeLessThan(60_000e6);
    expect(await slow.settled((e) => e.dport === conn.port)).toEqual([]);
  } finally {
    all.close();
    slow.close();
  }
});

it('bad options are one precise error, and nothing stays loaded', () => {
  const before = bpfFdTargets(process.pid).length;
  expect(() => tcpconnlat({ minMs: -1 })).toThrow(/minMs must be a number of milliseconds/);
  expect(() => tcpconnlat({ pid: 0 })).toThrow(/pid must be an integer/);
  expect(() => tcpconnlat({ family: 5 as 4 })).toThrow(/family must be 4 or 6/);
  expect(() => tcpconnlat({ bogus: 1 } as never)).toThrow(/unknown option 'bogus'/);
  expect(bpfFdTargets(process.pid).length).toBe(before);
});

it('close() frees every BPF object', async () => {
  const before = bpfFdTargets(process.pid).length;
  const t = tcpconnlat();
  expect(bpfFdTargets(process.pid).length).toBeGreaterThan(before);
  t.close();
  expect(bpfFdTargets(process.pid).length).toBe(before);
});

it('a connect answered by an RST (nothing listens): reported, refused, by its caller', async () => {
  const c = capture({ family: 6 });
  try {
    const refused = await runRefused(bins, 6);
    const ev = await c.waitFor((e) => e.dport === refused.port && e.pid === refused.pid);
    expect([ev.comm, ev.saddr, ev.daddr, ev.refused]).toEqual([CLIENT_COMM, '::1', '::1', true]);
    expect(ev.latNs).toBeGreaterThan(0);
  } finally {
    c.close();
  }
});

it("a slow connect (its SYN dropped by a full accept queue, answered after the retransmit in the timer's context): still its caller's; minMs", async () => {
  const bin = compileC(new URL('../../tcpretrans/test/c/synflood.c', import.meta.url));
  const all = capture({ family: 4 });
  const slow = capture({ family: 4, minMs: 500 });
  try {
    const p = start(bin, ['4', 'accept']);
    const port = Number((await p.line('listening ')).split(' ')[1]);
    const lport = Number((await p.line('client ')).split(' ')[1]);
    expect((await p.done).code).toBe(0);
    const mine = (e: TcpConnect) => e.lport === lport && e.dport === port;
    const ev = await all.waitFor(mine);
    expect([ev.pid, ev.comm, ev.refused]).toEqual([p.pid, 'synflood', false]);
    expect(ev.latNs).toBeGreaterThanOrEqual(500e6); // one SYN retransmission timeout (1 s) at least
    // both connects of the process in `all`; in `slow`, those of at least 500 ms (the slow one at least)
    const both = await all.waitForCount((e) => e.dport === port, 2);
    const got = await slow.settled((e) => e.dport === port);
    expect(got.map((e) => e.lport)).toEqual(both.filter((e) => e.latNs >= 500e6).map((e) => e.lport));
    expect(got.map((e) => e.lport)).toContain(lport);
  } finally {
    all.close();
    slow.close();
  }
});
