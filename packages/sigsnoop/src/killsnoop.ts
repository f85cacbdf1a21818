#!/usr/bin/env node
// killsnoop: trace signals sent by the kill() family of syscalls. Flags and
// output follow BCC's killsnoop; --json prints one JSON object per event.
// The same tracer as sigsnoop, in kill-only mode.
import { runMain } from '@ebpf/core/cli';
import { main } from './program.js';

await runMain('killsnoop', () => main('killsnoop', process.argv), () => process.argv.includes('-v') || process.argv.includes('--verbose'));
