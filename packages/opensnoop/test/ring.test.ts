// The default ring is sized by the kit from opensnoop's record size and the
// CPU count (defaultRingBytes); -b and the API's ringBytes override it.
import { describe, it, expect } from 'vitest';
import { cpus } from 'node:os';
import { RING_HICCUP_MS, RING_MAX_DEFAULT, RING_STORM_RATE, defaultRingBytes } from '@ebpf/core/kit';
import { tool } from '../src/index.js';
import { errorLine, tool as cliTool } from '../../../test/support/cli.js';

const CLI = cliTool(new URL('../dist/cli.js', import.meta.url));

describe('ring sizing', () => {
  it('the default holds RING_HICCUP_MS of a storm on every CPU: a power of two, at least that many bytes', () => {
    const ring = tool.def.ring!;
    for (const n of [1, 2, 16, 64, 1024]) {
      const bytes = defaultRingBytes(ring, n);
      const record = Math.ceil((ring.recordBytes! + 8) / 8) * 8;
      const storm = (record * RING_STORM_RATE * n * RING_HICCUP_MS) / 1000;
      expect(bytes & (bytes - 1)).toBe(0);
      expect(bytes).toBeGreaterThanOrEqual(ring.defaultBytes);
      if (bytes < RING_MAX_DEFAULT) {
        expect(bytes).toBeGreaterThanOrEqual(storm);
        expect(bytes / 2 < storm || bytes === ring.defaultBytes).toBe(true); // the smallest such power of two
      }
    }
    expect(defaultRingBytes(ring, 1024)).toBe(RING_MAX_DEFAULT);
  });

  it('the loaded ring is the default for this machine, or ringBytes when given', () => {
    for (const [opts, want] of [
      [{}, defaultRingBytes(tool.def.ring!, cpus().length)],
      [{ ringBytes: 64 * 1024 }, 64 * 1024],
    ] as const) {
      const loaded = tool.load(opts);
      try {
        expect(loaded.object.map('events').maxEntries).toBe(want);
      } finally {
        loaded.object.close();
      }
    }
  });

  it('-v says what the ring costs; -b still sets it', async () => {
    const e = await CLI.run(['-v', '-d', '1', '-b', '8']);
    expect(e.code).toBe(0);
    expect(e.stderr).toMatch(/^opensnoop: ring buffer \d+ KiB \(as asked\)$/m);
    const d = await CLI.run(['-v', '-d', '1']);
    expect(d.stderr).toMatch(new RegExp(`^opensnoop: ring buffer \\d+ [KM]iB: ${RING_HICCUP_MS} ms of ${RING_STORM_RATE} records/s per CPU on ${cpus().length} CPUs, ~${tool.def.ring!.recordBytes} bytes each$`, 'm'));
    expect(errorLine(await CLI.run(['-b', '3']), 2)).toMatch(/power of two/);
  });
});
