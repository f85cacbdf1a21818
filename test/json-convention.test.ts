// One JSON convention for every tool (packages/core/README.md, "JSON"): each
// CLI's --json, run briefly against a workload, prints lines that all follow
// it: `time` (ISO 8601 UTC) and `elapsed` (seconds, a number) first, every
// key camelCase, an event's `timestamp` a decimal string. And the typed
// API's events go through plain JSON.stringify(), 64-bit values exact.
// The tools' dist/ must be built (npm run build in each package).
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tcpstates, type TcpStateChange } from '../packages/tcpstates/src/index.js';
import { execsnoop, type ExecEvent } from '../packages/execsnoop/src/index.js';
import { runqlat } from '../packages/runqlat/src/index.js';
import { tool } from './support/cli.js';
import { EVERY_TOOL, Workloads, script } from './support/everytool.js';
import { expectJsonLine } from './support/json.js';
import { uniq } from './support/tmp.js';
import { DEADLINE, sleep, until } from './support/wait.js';

/** Objects whose keys are data (module names), not field names. */
const KEYED: Record<string, string[]> = { profile: ['unnamed'] };

let w: Workloads;
beforeAll(async () => {
  w = await Workloads.start('ebpf-test-json-');
}, 60_000);
afterAll(() => w?.stop());

describe('every CLI --json follows the convention', () => {
  for (const t of EVERY_TOOL) {
    it(`${t.name} --json`, async () => {
      const cli = tool(script(t.script)).spawn(['--json', ...t.args(w)]);
      // Something to print: poke until a line is out (or the run ended by itself).
      const deadline = Date.now() + DEADLINE.start;
      while (!cli.stdout.includes('\n') && cli.proc.exitCode === null && Date.now() < deadline) {
        await (t.poke?.(w) ?? w.poke)();
        await sleep(50);
      }
      const e = await cli.stop('SIGINT');
      expect([e.code, e.signal], e.stderr).toEqual([0, null]);
      // System-wide tools print a lot on a busy machine: the first 100 lines.
      const lines = e.stdout.split('\n', 101).slice(0, 100).filter(Boolean);
      expect(lines.length, e.stderr).toBeGreaterThan(0);
      for (const line of lines) {
        const o = expectJsonLine(line, { keyed: KEYED[t.name] });
        if (t.events) expect(o.timestamp, line).toMatch(/^\d+$/);
      }
    }, 60_000);
  }
});

describe('the typed API: plain JSON.stringify, 64-bit values exact', () => {
  it('tcpstates events (a kernel address past 2^53) and execsnoop events round-trip through JSON', async () => {
    const states = tcpstates();
    const execs = execsnoop();
    try {
      const changes: TcpStateChange[] = [];
      const run: ExecEvent[] = [];
      states.subscribe((evs) => changes.push(...evs.filter((c) => c.rport === w.port || c.lport === w.port)));
      const marker = uniq('json');
      execs.subscribe((evs) => run.push(...evs.filter((ev) => ev.args.includes(marker))));
      await until(async () => {
        await w.tcpSession();
        spawnSync('/bin/true', [marker]);
        return changes.length > 0 && run.length > 0;
      }, 'a state change on our port and our exec', DEADLINE.output, 100);
      for (const ev of [changes[0]!, run[0]!]) {
        const text = JSON.stringify(ev); // no "Do not know how to serialize a BigInt"
        const back = JSON.parse(text);
        expect(Object.keys(back)).toEqual(Object.keys(ev).filter((k) => (ev as unknown as Record<string, unknown>)[k] !== undefined));
        expect(typeof back.timestamp).toBe('string');
        expect(BigInt(back.timestamp)).toBe(ev.timestamp);
      }
      const c = changes[0]!;
      expect(c.skaddr).toBeGreaterThan(2n ** 53n); // a kernel address: a Number would round it
      const back = JSON.parse(JSON.stringify(c));
      expect(BigInt(back.skaddr)).toBe(c.skaddr);
      expect({ ...back, timestamp: BigInt(back.timestamp), skaddr: BigInt(back.skaddr) }).toEqual({ ...c });
      // The same fields as the CLI's line carries after time and elapsed.
      const r = run[0]!;
      expect(JSON.parse(JSON.stringify(r))).toEqual({ ...r, timestamp: String(r.timestamp), cgroupId: String(r.cgroupId) });
    } finally {
      states.close();
      execs.close();
    }
  }, 60_000);

  it('a periodic tool\'s snapshot (runqlat): plain JSON.stringify, its period exact, its time ISO', async () => {
    const h = runqlat();
    try {
      spawnSync('/bin/true'); // a task woken, so that there is a histogram
      const snap = h.snapshot();
      const back = JSON.parse(JSON.stringify(snap));
      expect(BigInt(back.startNs)).toBe(snap.startNs);
      expect(BigInt(back.endNs)).toBe(snap.endNs);
      expect(back.time).toBe(snap.time.toISOString());
      expect(back.histograms).toHaveLength(snap.histograms.length);
    } finally {
      h.close();
    }
  }, 60_000);
});
