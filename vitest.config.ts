import { readdirSync, existsSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

// One project per package that has tests (packages/<name>/test), plus the
// cross-package tests in test/. Tests load real BPF programs into the running
// kernel (they need root), so files run one at a time: the workloads and event
// counts of two files must not interleave.
const project = (name: string, dir: string) => ({
  test: {
    name,
    include: [`${dir}/**/*.test.ts`],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});

const packages = readdirSync('packages').filter((p) => existsSync(`packages/${p}/test`));

export default defineConfig({
  test: {
    fileParallelism: false,
    projects: [...packages.map((p) => project(p, `packages/${p}/test`)), project('e2e', 'test')],
  },
});
