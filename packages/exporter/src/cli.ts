#!/usr/bin/env node
// ebpf-exporter's entry: V8's flags first (v8flags.ts says why), then the
// program (main.ts), imported only now: static imports would load first.
import { setFlagsFromString } from 'node:v8';
import { V8_FLAGS } from './v8flags.js';

for (const f of V8_FLAGS) setFlagsFromString(f);
await import('./main.js');
