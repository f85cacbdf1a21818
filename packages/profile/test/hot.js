// The JIT workload: a distinctively named JavaScript function that burns
// CPU, run under `node --perf-basic-prof` (which writes /tmp/perf-PID.map).
// Prints "ready" once the function has been compiled, then spins until killed.
function zzProfileHotJavaScript(n) {
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.sqrt(i) * Math.sin(i);
  return s;
}
let total = zzProfileHotJavaScript(100000);
process.stdout.write('ready\n');
for (;;) total += zzProfileHotJavaScript(200000);
