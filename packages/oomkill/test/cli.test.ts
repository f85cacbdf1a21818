// The oomkill CLI as users run it, watching a real OOM kill in a 32 MiB
// memory cgroup the test creates and removes: BCC's sentence, --json, the
// endings and the errors.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LOADAVG, MemCgroup, PAGE, buildHog, kernelKill, startHog } from './helpers.js';
import { expectJsonLine } from '../../../test/support/json.js';
import { AS_NOBODY, Cli, errorLine, expectCleanExit, expectHelp, tool } from '../../../test/support/cli.js';
import { killChildren } from '../../../test/support/workload.js';

const HEADER = 'Tracing OOM kills... Ctrl-C to stop.';
const CLI = tool(new URL('../dist/cli.js', import.meta.url), { ready: HEADER });

let hog: string;
beforeAll(() => {
  hog = buildHog('oomhog');
});
afterEach(async () => {
  await Cli.stopAll();
  await killChildren();
  await MemCgroup.removeAll();
});

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('oomkill', () => {
  it("prints BCC's line for a kill: time, trigger, victim, its resident pages, /proc/loadavg; Ctrl-C exits 0", async () => {
    const cli = await CLI.start([]);
    const h = await startHog(hog, new MemCgroup(), 0);
    const line = await cli.row((l) => l.includes(`OOM kill of PID ${h.pid} `));
    const m = line.match(
      new RegExp(`^(\\d\\d):(\\d\\d):(\\d\\d) Triggered by PID ${h.pid} \\("oomhog"\\), OOM kill of PID ${h.pid} \\("oomhog"\\), (\\d+) pages, loadavg: (.*)$`),
    );
    expect(m, line).not.toBeNull();
    expect(Number(m![1])).toBeLessThan(24);
    expect(m![5]).toMatch(LOADAVG);
    // The pages are the victim's resident pages when killed, as the kernel logged them.
    const log = await kernelKill(h.pid);
    expect((Number(m![4]) * PAGE) / 1024).toBe(log.anonRssKb + log.fileRssKb + log.shmemRssKb);
    const end = await cli.stop('SIGINT');
    expectCleanExit(end);
    expect(end.stdout.split('\n')[0]).toBe(HEADER);
  });

  it('--json: one object per kill, every field', async () => {
    const cli = await CLI.start(['--json'], { links: 1 });
    const h = await startHog(hog, new MemCgroup(), 0);
    const [line] = await cli.waitRows((l) => l.includes(`"pid":${h.pid},`), 1);
    const o = expectJsonLine(line!) as any;
    expect(Object.keys(o)).toEqual([
      'time', 'elapsed', 'timestamp', 'triggerPid', 'triggerComm', 'pid', 'tid', 'comm', 'uid', 'oomScoreAdj', 'rssPages', 'totalVmPages',
      'anonRssPages', 'fileRssPages', 'shmemRssPages', 'swapPages', 'pgtablesBytes', 'loadavg',
    ]);
    expect(o).toMatchObject({ triggerPid: h.pid, triggerComm: 'oomhog', pid: h.pid, tid: h.pid, comm: 'oomhog', uid: 0, oomScoreAdj: 0, swapPages: 0 });
    expect(Math.abs(Date.parse(o.time) - Date.now())).toBeLessThan(3_600_000); // a real date, not the epoch
    expect(o.loadavg).toMatch(LOADAVG);
    const log = await kernelKill(h.pid);
    expect([o.anonRssPages, o.fileRssPages, o.shmemRssPages, o.totalVmPages].map((p: number) => (p * PAGE) / 1024)).toEqual([log.anonRssKb, log.fileRssKb, log.shmemRssKb, log.totalVmKb]);
    expectCleanExit(await cli.stop('SIGTERM'));
    expect(cli.stdout.startsWith('{')).toBe(true); // no header in JSON
  });

  it('--help: exit 0, every flag listed', async () => {
    expectHelp(await CLI.run(['--help']), 'Usage: oomkill [options]', ['--json', '-v, --verbose', '-h, --help']);
  });

  it('an unknown option or an argument: one line, exit 2', async () => {
    expect(errorLine(await CLI.run(['-x']), 2)).toMatch(/^oomkill: .*'-x'/);
    expect(errorLine(await CLI.run(['5']), 2)).toMatch(/^oomkill: /);
  });

  it('not root: one line, exit 1', async () => {
    expect(errorLine(await CLI.run([], { wrap: AS_NOBODY }), 1)).toMatch(/^oomkill: .*root/);
  });
});
