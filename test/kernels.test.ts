// The kernel matrix, in the suite: Debian 12's own kernel (6.1) and its
// backports kernel (6.12) boot under QEMU (scripts/kernels/boot.sh), and every
// tool's smoke (test/kernels/smoke.mjs: the CLI as a user runs it, against a
// workload it starts) must pass in each, as it does on the host. Debian 11's
// 5.10 is in `npm run test:kernels` only: several tools need 5.17+ there.
import { beforeAll, describe, expect, it } from 'vitest';
import { prepare, smokes } from './kernels/smoke.mjs';
import { parseSmoke, smokeUnder } from './kernels/run.mjs';

beforeAll(() => prepare(), 120_000);

describe.each(['6.1', '6.12'])('Debian kernel %s under QEMU', (kernel) => {
  it('every tool loads there and shows its workload', async () => {
    const { code, out } = await smokeUnder(kernel, [], { echo: false });
    const expected = Object.fromEntries(Object.keys(smokes).map((tool) => [tool, 'ok']));
    // On a failure, the guest's last lines (smoke.mjs's reasons, boot.sh's) come with the diff.
    expect(parseSmoke(out as string), (out as string).split('\n').slice(-40).join('\n')).toEqual(expected);
    expect(code, (out as string).split('\n').slice(-40).join('\n')).toBe(0);
  }, 40 * 60_000);
});
