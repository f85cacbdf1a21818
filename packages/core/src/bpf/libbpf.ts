// Process-wide libbpf settings and facts, for tools and tests: the only
// parts of the native addon a tool needs directly.
import { native } from '../native/load.js';

/**
 * libbpf notices that are expected and say nothing to a user: libbpf skips
 * the `.ebpf.types` section (where bpf/include/ebpf/common.h's EBPF_EXPORT
 * keeps the types of records for the TypeScript generator) with an INFO line.
 */
const EXPECTED_NOTICES = ['.ebpf.types'];

let quiet = false;
/** @internal Drops the expected notices from libbpf's output; once, before anything is opened. */
export function quietLibbpfNotices(): void {
  if (quiet) return;
  native().setLogFilter(EXPECTED_NOTICES);
  quiet = true;
}

/** Print libbpf's debug log (and verifier logs) to stderr, e.g. for a CLI's --verbose. */
export function setLibbpfVerbose(on: boolean): void {
  quietLibbpfNotices();
  native().setVerbose(on);
}

/** The libbpf version the addon was built against, e.g. '1.1.0'. */
export function libbpfVersion(): string {
  return native().libbpfVersion;
}

/**
 * Number of possible CPUs (/sys/devices/system/cpu/possible), as libbpf
 * counts them: the size of a per-CPU map value, one perf buffer per CPU.
 */
export function possibleCpus(): number {
  return native().possibleCpus();
}
