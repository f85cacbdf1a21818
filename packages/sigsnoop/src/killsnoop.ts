#!/usr/bin/env node
// killsnoop: trace signals sent by the kill() family of syscalls. Flags and
// output follow BCC's killsnoop; --json prints one JSON object per event.
// The same tracer as sigsnoop, in kill-only mode.
import { runCli, runEventCli } from '@ebpf/core/kit';
import { killsnoop } from './program.js';

await runCli('killsnoop', (argv) => runEventCli(killsnoop, argv));
