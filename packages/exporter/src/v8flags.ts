// The V8 flags ebpf-exporter runs with (cli.ts sets them before anything else
// loads; bench/exporter.mjs measures /metrics under them too). An always-on
// agent trades JavaScript speed for memory, measured in the README ("Cost"):
//
//   --no-turbofan, --no-maglev  no optimizing compiler (Maglev is on by default
//       from Node 22): its code in the node binary is never paged in and no
//       optimized code is kept, about 4 MB less resident. The exporter's
//       JavaScript runs per batch and per scrape, not per event; the baseline
//       compiler (Sparkplug) still runs.
//   --semi-space-growth-factor=1  the young generation keeps its first size
//       instead of doubling under allocation bursts (a scrape, a storm of
//       events): 1.5 MB less at rest, and 40 MB less at the peak of a scrape
//       of 10 000 series, for more (cheap) young collections.
//
// Set at run time with v8.setFlagsFromString: these three are read when V8
// decides to optimize or to grow the young generation, not at start-up, so
// they take effect for `node dist/cli.js` as for the installed bin.
export const V8_FLAGS = ['--no-turbofan', '--no-maglev', '--semi-space-growth-factor=1'] as const;
