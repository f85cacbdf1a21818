// tcpretrans' API against the running kernel: real BPF, a real SYN
// retransmit over loopback (a full accept queue drops the SYN); the flow is
// found by its ports (the machine may carry other TCP traffic).
import { describe, it, expect, beforeAll, afterEach } from 'vitest';
import { tcpretrans, FlowCounter, type Retransmit, type Tracer } from '../src/index.js';
import { LOOPBACK, buildSynflood, startFlood, type Family } from './helpers.js';
import { collect } from '../../../test/support/events.js';
import { bpfFdTargets } from '../../../test/support/bpf.js';
import { killChildren } from '../../../test/support/workload.js';

let bin: string;
beforeAll(() => {
  bin = buildSynflood();
});
afterEach(() => killChildren());

describe.each([4, 6] as Family[])('IPv%i', (family) => {
  it("a dropped SYN's retransmits: the flow, SYN_SENT, type R; -4/-6 keep their family only", async () => {
    const c = collect<Retransmit, Tracer<Retransmit>>(tcpretrans({ family }));
    try {
      const t0 = process.hrtime.bigint();
      const flood = await startFlood(bin, family);
      const mine = (r: Retransmit) => r.lport === flood.lport && r.rport === flood.port;
      const [r] = await c.waitForCount(mine, 1);
      const addr = LOOPBACK[family];
      expect([r!.family, r!.laddr, r!.lport, r!.raddr, r!.rport, r!.state, r!.type]).toEqual([family, addr, flood.lport, addr, flood.port, 'SYN_SENT', 'R']);
      expect(r!.timestamp > t0).toBe(true);
      expect(c.events.every((e) => e.family === family)).toBe(true);
      // the counter: one flow, as many retransmits as seen
      const counter = new FlowCounter();
      for (const e of c.events.filter(mine)) counter.add(e);
      expect(counter.flows()).toEqual([{ family, laddr: addr, lport: flood.lport, raddr: addr, rport: flood.port, retransmits: c.events.filter(mine).length }]);
    } finally {
      c.close();
    }
  });
});

it('bad options are one precise error, and close() frees every BPF object', () => {
  const before = bpfFdTargets(process.pid).length;
  expect(() => tcpretrans({ family: 5 as 4 })).toThrow(/family must be 4 or 6/);
  expect(() => tcpretrans({ bogus: 1 } as never)).toThrow(/unknown option 'bogus'/);
  const t = tcpretrans();
  expect(bpfFdTargets(process.pid).length).toBeGreaterThan(before);
  t.close();
  expect(bpfFdTargets(process.pid).length).toBe(before);
});
