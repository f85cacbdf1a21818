// A CLI whose stdout is a pipe that its reader stops reading: what Node
// queues behind the full pipe is bounded (past Output.QUEUE_BYTES the ring
// reader is paused, records wait in the kernel ring, and what does not fit
// there is dropped and counted), and once the reader reads again everything
// comes out: whole rows, and rows + the lost-events lines account for every
// event, none lost silently. With the real opensnoop CLI and a C workload
// that opens one marker file N times while the test is not reading.
// opensnoop's dist/ must be built.
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { possibleCpus } from '@ebpf/core';
import { Output } from '@ebpf/core/cli';
import { HEADER, bccRow } from '../packages/opensnoop/test/helpers.js';
import { stopAfterEach, tool } from './support/cli.js';
import { tempDir, type TempDir } from './support/tmp.js';
import { until } from './support/wait.js';
import { compileC, start } from './support/workload.js';

const CLI = tool(new URL('../packages/opensnoop/dist/cli.js', import.meta.url), { ready: HEADER });

/** Opens argv[1] argv[2] times (open + close) once a line comes on stdin; then prints the fd it got. */
const OPENER = {
  name: 'slowpipe_open',
  code: `#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	char line[16];
	long n = atol(argv[2]);
	int fd = -1;

	if (argc != 3 || !fgets(line, sizeof(line), stdin))
		return 1;
	for (long i = 0; i < n; i++) {
		fd = open(argv[1], O_RDONLY);
		if (fd < 0)
			return 2;
		close(fd);
	}
	printf("%d\\n", fd);
	return 0;
}
`,
};

/** Opens made while the test does not read: far more than the queue bound and the ring hold together. */
const N = 300_000;
/** -b: 1024 pages per CPU: a 4 MiB ring for each CPU (~30k records of this workload for each). */
const PAGES = 1024;

/** The events the CLI's lost-events lines ("Possibly lost N samples") say it lost. */
const lostIn = (stderr: string): number => [...stderr.matchAll(/^Possibly lost (\d+) samples$/gm)].reduce((s, m) => s + Number(m[1]), 0);

let tmp: TempDir;
let opener: string;
beforeAll(() => {
  tmp = tempDir('ebpf-test-slowpipe-');
  opener = compileC(OPENER);
});
afterAll(() => tmp?.cleanup());
stopAfterEach();

describe('stdout a pipe whose reader stops reading', () => {
  it('pauses the ring reader (drops counted, not queued without bound), then prints whole rows; rows + lost == opens', { timeout: 120_000 }, async () => {
    const marker = join(tmp.dir, `marker-${process.pid}`);
    writeFileSync(marker, '');
    const work = start(opener, [marker, String(N)], { stdio: ['pipe', 'pipe', 'inherit'] });
    const cli = await CLI.start(['-p', String(work.pid), '-b', String(PAGES)]);
    // Rows of the marker, counted as they come (stdout is a few MB: no re-split per poll).
    let rows = 0;
    let carry = '';
    cli.proc.stdout!.on('data', (d: string) => {
      const text = carry + d;
      const nl = text.lastIndexOf('\n');
      carry = text.slice(nl + 1);
      for (let at = text.indexOf(marker); at >= 0 && at < nl; at = text.indexOf(marker, at + marker.length)) rows++;
    });

    // Stop reading: the pipe, then Node's queue in the CLI fill up.
    cli.proc.stdout!.pause();
    work.write('go\n');
    const done = await work.done;
    expect(done.code).toBe(0);
    const fd = Number(done.stdout.trim());
    expect(rows).toBe(0);

    // Read again, and wait until every open is either printed or reported lost.
    cli.proc.stdout!.resume();
    await until(() => rows + lostIn(cli.stderr) >= N, () => `rows ${rows} + lost ${lostIn(cli.stderr)} to reach ${N}; stderr: ${cli.stderr}`, 60_000);
    const e = await cli.stop('SIGINT');
    expect([e.code, e.signal]).toEqual([0, null]);

    // Every line whole: the header, then this workload's row exactly (-p: nothing else traced).
    expect(e.stdout.endsWith('\n')).toBe(true);
    const lines = e.stdout.split('\n').slice(0, -1);
    expect(lines[0]).toBe(HEADER);
    const row = bccRow(work.pid, OPENER.name, fd, 0, marker);
    const torn = lines.slice(1).filter((l) => l !== row);
    expect(torn.slice(0, 5)).toEqual([]);
    const printed = lines.length - 1;
    // stderr holds the lost-events lines and nothing else.
    expect(e.stderr.split('\n').filter((l) => l !== '' && !/^Possibly lost \d+ samples$/.test(l))).toEqual([]);
    const lost = lostIn(e.stderr);
    expect(printed + lost).toBe(N);

    // The pause really happened and bounded what was kept: while nobody read,
    // the CLI queued at most QUEUE_BYTES, plus 1 MiB for the rest: the chunk
    // that crossed the bound and the one the flush timer writes (128 KiB
    // each), the rows of the ring batch being delivered when it paused (256
    // KiB of records), the pipe (64 KiB) and this side's stream buffer; and the
    // ring held at most its size in records (each at least its 8-byte header,
    // 64 bytes of event and the path). The rest was dropped. Without the pause
    // the CLI reads the whole storm into its queue and prints every open.
    let ringBytes = 4096; // -b: pages per CPU, rounded up to a power of two for the one ring
    while (ringBytes < PAGES * 4096 * possibleCpus()) ringBytes *= 2;
    const heldRecords = ringBytes / (8 + 64 + Buffer.byteLength(marker));
    const queuedRows = (Output.QUEUE_BYTES + (1 << 20)) / Buffer.byteLength(`${row}\n`);
    expect(lost).toBeGreaterThan(0);
    expect(printed).toBeGreaterThan(0);
    expect(printed).toBeLessThanOrEqual(Math.floor(heldRecords + queuedRows));
    console.log(`slow pipe: ${N} opens: ${printed} printed, ${lost} lost (bound ${Math.floor(heldRecords + queuedRows)})`);
  });
});
