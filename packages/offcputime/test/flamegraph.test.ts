// offcputime --flamegraph: the same folded stacks as -f, as a page a real
// browser renders (the sleeper's function named in it).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Sleeper, buildSleeper } from './helpers.js';
import { expectCleanExit, tool } from '../../../test/support/cli.js';
import { dumpDom } from '../../../test/support/browser.js';
import { tempDir } from '../../../test/support/tmp.js';

const CLI = tool(new URL('../dist/cli.js', import.meta.url));
let bin: string;
beforeAll(() => {
  bin = buildSleeper();
});
afterAll(() => Sleeper.stopAll());

it('--flamegraph FILE.html: the off-CPU stacks in microseconds, rendered with the sleeping function', async () => {
  const s = await Sleeper.start(bin);
  const html = join(tempDir().dir, 'off.html');
  const cli = await CLI.start(['-p', String(s.pid), '-f', '--flamegraph', html], { links: 1 });
  await s.sleep(5, 20);
  const e = await cli.stop('SIGINT');
  expectCleanExit(e);
  expect(e.stdout).toContain(';offcputime_test_sleep;');
  const dom = await dumpDom(`file://${html}?s=offcputime_test_sleep`);
  expect(dom).toContain('offcputime_test_sleep (');
  const m = /Matched: ([\d.]+)% \((\d+) us\)/.exec(dom);
  expect(m, 'search result').not.toBeNull();
  // 5 sleeps of 20 ms: at least 99 ms off-CPU in that function.
  expect(Number(m![2])).toBeGreaterThanOrEqual(99_000);
  expect(readFileSync(html, 'utf8')).toContain('<title>offcputime: off-CPU time</title>');
}, 60_000);
