#!/usr/bin/env node
// sigsnoop: trace signals. Flags and output follow libbpf-tools' sigsnoop
// (BCC has none); --json prints one JSON object per event instead.
import { runMain } from '@ebpf/core/cli';
import { main } from './program.js';

await runMain('sigsnoop', () => main('sigsnoop', process.argv), () => process.argv.includes('-v') || process.argv.includes('--verbose'));
