import { defineConfig } from 'vitest/config';

// One project per package plus the cross-package tests in test/. Tests load
// real BPF programs into the running kernel (they need root), so files run one
// at a time: workloads and event counts of two files must not interleave.
const project = (name: string, dir: string) => ({
  test: {
    name,
    include: [`${dir}/**/*.test.ts`],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});

export default defineConfig({
  test: {
    fileParallelism: false,
    projects: [
      project('core', 'packages/core/test'),
      project('execsnoop', 'packages/execsnoop/test'),
      project('e2e', 'test'),
    ],
  },
});
