#!/usr/bin/env node
// sigsnoop: trace signals. Flags and output follow libbpf-tools' sigsnoop
// (BCC has none); --json prints one JSON object per event instead.
import { runCli, runEventCli } from '@ebpf/core/kit';
import { sigsnoop } from './program.js';

await runCli('sigsnoop', (argv) => runEventCli(sigsnoop, argv));
