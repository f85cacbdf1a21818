// npm run bench: every tool's benchmark (bench/<tool>.mjs, each exporting
// run()), numbers side by side with the C reference where it runs here.
// Needs root. `node bench/run.mjs execsnoop opensnoop` runs some.
import { readdirSync } from 'node:fs';

const here = new URL('.', import.meta.url);
const all = readdirSync(here).filter((f) => f.endsWith('.mjs') && f !== 'run.mjs' && f !== 'lib.mjs').map((f) => f.slice(0, -4)).sort();
const only = process.argv.slice(2);
for (const name of all) {
  if (only.length && !only.includes(name)) continue;
  const mod = await import(new URL(`${name}.mjs`, here).href);
  await mod.run();
}
