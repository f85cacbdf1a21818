// npm run bench: every tool's benchmark, numbers side by side with the C
// reference where it runs here. Needs root. `node bench/run.mjs execsnoop`
// runs one.
const benches = { execsnoop: () => import('./execsnoop.mjs') };
const only = process.argv.slice(2);
for (const [name, load] of Object.entries(benches)) {
  if (only.length && !only.includes(name)) continue;
  const mod = await load();
  await mod.run();
}
