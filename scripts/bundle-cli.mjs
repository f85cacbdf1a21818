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

for (const file of bins) {
  await build({
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
