// Bundles each of a package's CLIs (its package.json "bin" entries, already
// compiled by tsc) into one file, in place: the tool, @ebpf/core and
// commander in a single ES module.
//
// Why: a CLI's start before its header is mostly Node's module loader. Each
// of the ~70 modules a tool imports is resolved, stat()ed, read and linked
// on its own, and commander is CommonJS behind the ESM facade; one file
// cuts that to one read and one compile (measured: about 60 ms of CPU
// before the header on this machine's 2 cores). The typed API (dist/index.js)
// is not bundled: an application that embeds a tool shares one @ebpf/core.
//
// What stays outside the bundle: Node's built-ins, and the native addon,
// which core finds through its own package.json (native/load.ts), so the
// addon and its prebuilds are looked up where @ebpf/core is installed.
//
// Run from a package folder, after tsc: node ../../scripts/bundle-cli.mjs
import { readFileSync } from 'node:fs';
import { build } from 'esbuild';

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const bins = [...new Set(Object.values(typeof pkg.bin === 'string' ? { [pkg.name]: pkg.bin } : (pkg.bin ?? {})))];

// commander loads node:child_process (and with it dgram and net) at the top
// of command.js, for the stand-alone subcommand executables no tool here has.
// Loading it on first use instead saves every CLI start ~1.3 MB of RSS and a
// few ms. The line is matched exactly: a commander that changes it fails the
// build here rather than silently keeping the eager load.
const EAGER_CHILD_PROCESS = "const childProcess = require('node:child_process');";
const lazyChildProcess = {
  name: 'commander-lazy-child-process',
  setup(b) {
    b.onLoad({ filter: /[\\/]commander[\\/]lib[\\/]command\.js$/ }, (args) => {
      const src = readFileSync(args.path, 'utf8');
      if (!src.includes(EAGER_CHILD_PROCESS)) throw new Error(`${args.path}: its child_process line changed; update scripts/bundle-cli.mjs`);
      const lazy = "let childProcessModule; const childProcess = { spawn: (...a) => (childProcessModule ??= require('node:child_process')).spawn(...a) };";
      return { contents: src.replace(EAGER_CHILD_PROCESS, lazy), loader: 'js' };
    });
  },
};

for (const file of bins) {
  await build({
    plugins: [lazyChildProcess],
    entryPoints: [file],
    outfile: file,
    allowOverwrite: true,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // commander is CommonJS: its require() calls of Node built-ins need a
    // require in an ES module.
    banner: { js: "import { createRequire as __ebpfRequire } from 'node:module';\nconst require = __ebpfRequire(import.meta.url);" },
    legalComments: 'eof',
    logLevel: 'warning',
  });
}
