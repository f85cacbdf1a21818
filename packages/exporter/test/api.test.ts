// The embedding API: an application's own prom-client Registry and
// OpenTelemetry MeterProvider get the metrics; the comm cap holds.
import { afterAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { AggregationTemporality, DataPointType, MeterProvider, MetricReader, type SumMetricData } from '@opentelemetry/sdk-metrics';
import { OTHER, startExporter, type Exporter } from '../src/index.js';
import { UsageError } from '@ebpf/core';
import { bpfLinks } from '../../../test/support/bpf.js';
import { until } from '../../../test/support/wait.js';
import { compileC, run } from '../../../test/support/workload.js';
import { cgroup2Root, containers } from '../../../test/support/container.js';
import { join, relative } from 'node:path';
import { execFileSync } from 'node:child_process';
import { uniq } from '../../../test/support/tmp.js';

class Reader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

const open: Exporter[] = [];
afterAll(async () => {
  for (const e of open) await e.close();
});

/** ebpf_execs_total's samples from the registry's text: comm → value. */
async function execs(registry: Registry): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const m of (await registry.metrics()).matchAll(/^ebpf_execs_total\{comm="([^"]*)"\} (\d+)$/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

describe('startExporter()', () => {
  it('bad options: a UsageError before anything loads', async () => {
    await expect(startExporter({ tools: ['nosuch' as never] })).rejects.toThrow(UsageError);
    await expect(startExporter({ tools: ['execsnoop'], commLimit: 0 })).rejects.toThrow(/commLimit must be a positive integer/);
    await expect(startExporter({ tools: ['execsnoop'], labels: ['pid' as never] })).rejects.toThrow(new UsageError("unknown label 'pid' (labels: cgroup)"));
    await expect(startExporter({ tools: ['execsnoop'], labels: ['cgroup'], cgroupLimit: 1.5 })).rejects.toThrow(/cgroupLimit must be a positive integer/);
    expect(bpfLinks()).toBe(0);
  });

  it("an application's Registry and MeterProvider: the same exec count in both", async () => {
    const registry = new Registry();
    const reader = new Reader();
    const provider = new MeterProvider({ readers: [reader] });
    const exp = await startExporter({ tools: ['execsnoop'], registry, meterProvider: provider, commLimit: 100000 });
    open.push(exp);
    expect(exp.registry).toBe(registry);
    expect(exp.running).toEqual(['execsnoop']);
    const marker = `exa${process.pid % 100000}`;
    const bin = compileC(new URL('./c/exwl.c', import.meta.url), { name: marker });
    for (let i = 0; i < 6; i++) expect((await run(bin, ['exit'])).code).toBe(3);
    await until(async () => (await execs(registry)).get(marker) === 6, 'six execs in the registry');
    const { resourceMetrics } = await reader.collect();
    const m = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((x) => x.descriptor.name === 'ebpf_execs') as SumMetricData;
    expect([m.dataPointType, m.aggregationTemporality, m.isMonotonic]).toEqual([DataPointType.SUM, AggregationTemporality.CUMULATIVE, true]);
    expect(m.dataPoints.find((p) => p.attributes.comm === marker)?.value).toBe(6);
    await exp.close();
    await provider.shutdown();
  });

  it('commLimit: at most N command names keep a label of their own; the rest count as "other", nothing dropped', async () => {
    const registry = new Registry();
    const exp = await startExporter({ tools: ['execsnoop'], registry, commLimit: 2 });
    open.push(exp);
    const names = ['exb', 'exc', 'exd', 'exe'].map((p) => `${p}${process.pid % 100000}`);
    let ran = 0;
    for (const [i, name] of names.entries()) {
      const bin = compileC(new URL('./c/exwl.c', import.meta.url), { name });
      for (let k = 0; k <= i; k++, ran++) expect((await run(bin, ['exit'])).code).toBe(3);
    }
    // Ours are at least `ran` of the execs, wherever they are counted.
    const sum = (s: Map<string, number>) => [...s.values()].reduce((a, b) => a + b, 0);
    await until(async () => sum(await execs(registry)) >= ran, `${ran} execs in all`);
    const first = await execs(registry);
    expect([...first.keys()].filter((c) => c !== OTHER).length).toBeLessThanOrEqual(2);
    // A name with its own series keeps it: counters only grow.
    for (const name of names) await run(compileC(new URL('./c/exwl.c', import.meta.url), { name }), ['exit']);
    await until(async () => sum(await execs(registry)) >= sum(first) + names.length, 'the second round');
    const second = await execs(registry);
    for (const [comm, v] of first) expect(second.get(comm), comm).toBeGreaterThanOrEqual(v);
    expect([...second.keys()].filter((c) => c !== OTHER).length).toBeLessThanOrEqual(2);
    await exp.close();
  });

  it("labels: ['cgroup'], cgroupLimit: at most N cgroup paths keep a label of their own, the rest count as \"other\"; nothing dropped", async () => {
    const cg = containers();
    const registry = new Registry();
    const exp = await startExporter({ tools: ['execsnoop'], registry, commLimit: 100000, labels: ['cgroup'], cgroupLimit: 1 });
    open.push(exp);
    try {
      const marker = `exq${process.pid % 100000}`;
      const bin = compileC(new URL('./c/exwl.c', import.meta.url), { name: marker });
      const series = async () => {
        const out = new Map<string, number>();
        for (const m of (await registry.metrics()).matchAll(new RegExp(`^ebpf_execs_total\\{comm="${marker}",cgroup="([^"]*)"\\} (\\d+)$`, 'gm'))) out.set(m[1]!, Number(m[2]));
        return out;
      };
      const sum = (s: Map<string, number>) => [...s.values()].reduce((a, b) => a + b, 0);
      // Three runs in the test's cgroup: its path has the one place, unless a busier cgroup of the machine took it.
      for (let i = 0; i < 3; i++) expect((await run(...cg.inCgroup(bin, ['exit']))).code).toBe(3);
      await until(async () => sum(await series()) === 3, 'three execs in the registry');
      const first = await series();
      const path = `/${relative(cgroup2Root(), cg.cgroup)}`;
      expect([...first.keys()].every((k) => k === path || k === OTHER), JSON.stringify([...first])).toBe(true);
      // One in its child: the place is taken, so "other"; counters only grow.
      expect((await run(...cg.inCgroup(bin, ['exit'], cg.child))).code).toBe(3);
      await until(async () => sum(await series()) === 4, 'the fourth exec');
      const second = await series();
      expect(second.has(`${path}/child`)).toBe(false);
      expect(second.get(OTHER) ?? 0).toBeGreaterThanOrEqual(1);
      for (const [k, v] of first) expect(second.get(k), k).toBeGreaterThanOrEqual(v);
      await exp.close();
    } finally {
      await cg.cleanup();
    }
  });

  it('a cgroup removed before the exporter could name it: cgroup="unknown", the events counted', async () => {
    const registry = new Registry();
    const exp = await startExporter({ tools: ['execsnoop'], registry, commLimit: 100000, labels: ['cgroup'] });
    open.push(exp);
    const marker = `exu${process.pid % 100000}`;
    const bin = compileC(new URL('./c/exwl.c', import.meta.url), { name: marker });
    const dir = join(cgroup2Root(), uniq('ebpf-test-gone'));
    // One synchronous shell makes the cgroup, runs the marker in it and
    // removes it: this thread (the exporter's reader) drains nothing until
    // the cgroup is gone.
    execFileSync('sh', ['-c', 'mkdir "$1" && { sh -c \'echo $$ > "$0/cgroup.procs" && exec "$1" exit\' "$1" "$2"; rmdir "$1"; }', 'sh', dir, bin]);
    const line = new RegExp(`^ebpf_execs_total\\{comm="${marker}",cgroup="([^"]*)"\\} (\\d+)$`, 'gm');
    let got: string[][] = [];
    await until(async () => {
      got = [...(await registry.metrics()).matchAll(line)].map((m) => [m[1]!, m[2]!]);
      return got.length > 0;
    }, 'the marker exec in the registry');
    expect(got).toEqual([['unknown', '1']]);
    await exp.close();
  });
});
