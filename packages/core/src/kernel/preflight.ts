// Checks a tool makes before loading anything, each failing with a one-line
// PreflightError a CLI prints as it is. All are a few file-system reads.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { PreflightError } from '../errors.js';
import { native } from '../native/load.js';

const TRACEFS = '/sys/kernel/tracing';
const DEBUGFS_TRACING = '/sys/kernel/debug/tracing';

const CAP_SYS_ADMIN = 21n;
const CAP_PERFMON = 38n;
const CAP_BPF = 39n;

let tracefs: string | undefined;

/** Where tracefs is mounted (after ensureTracefs(): guaranteed). */
export function tracefsRoot(): string {
  if (tracefs) return tracefs;
  if (existsSync(`${TRACEFS}/events`)) return (tracefs = TRACEFS);
  if (existsSync(`${DEBUGFS_TRACING}/events`)) return (tracefs = DEBUGFS_TRACING);
  return TRACEFS;
}

/**
 * Makes sure tracefs is mounted (libbpf finds tracepoint ids there): a fresh
 * machine may not have it. As root, mounts it; otherwise says how.
 */
export function ensureTracefs(): string {
  const root = tracefsRoot();
  if (existsSync(`${root}/events`)) return root;
  if (process.geteuid?.() === 0 && existsSync(TRACEFS)) {
    try {
      native().mountTracefs(TRACEFS);
    } catch (err) {
      throw new PreflightError('no-tracefs', `tracefs is not mounted and mounting it on ${TRACEFS} failed: ${(err as Error).message}`);
    }
    tracefs = undefined;
    if (existsSync(`${TRACEFS}/events`)) return (tracefs = TRACEFS);
  }
  throw new PreflightError(
    'no-tracefs',
    `tracefs is not mounted (no ${TRACEFS}/events); as root: mount -t tracefs nodev ${TRACEFS}`,
  );
}

/** Effective capabilities of this process, from /proc/self/status. */
export function effectiveCapabilities(): bigint {
  try {
    const m = readFileSync('/proc/self/status', 'utf8').match(/^CapEff:\s*([0-9a-f]+)$/m);
    return m ? BigInt(`0x${m[1]}`) : 0n;
  } catch {
    return 0n;
  }
}

/** True when this process may load and attach tracing programs. */
export function hasTracingPrivileges(caps = effectiveCapabilities()): boolean {
  const has = (c: bigint) => ((caps >> c) & 1n) === 1n;
  return has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON));
}

export function checkPrivileges(): void {
  if (!hasTracingPrivileges()) {
    throw new PreflightError('not-root', 'need root (or CAP_BPF and CAP_PERFMON) to trace; run it with sudo');
  }
}

export function checkBtf(): void {
  if (!existsSync('/sys/kernel/btf/vmlinux')) {
    throw new PreflightError(
      'no-btf',
      'this kernel has no BTF (/sys/kernel/btf/vmlinux is missing); CO-RE BPF programs need a kernel built with CONFIG_DEBUG_INFO_BTF=y',
    );
  }
}

/** Fails with the first tracepoint ("category:name", or a bare name: see hasTracepoint) this kernel lacks. */
export function checkTracepoints(tracepoints: string[]): void {
  if (tracepoints.length === 0) return;
  ensureTracefs();
  for (const tp of tracepoints) {
    if (!hasTracepoint(tp)) throw new PreflightError('no-tracepoint', `tracepoint ${tp} does not exist on this kernel`);
  }
}

/**
 * True when this kernel has the tracepoint: "category:name", or a bare name
 * (what raw_tp/ and tp_btf/ programs give), looked for in every category.
 */
export function hasTracepoint(tp: string): boolean {
  const events = `${ensureTracefs()}/events`;
  const colon = tp.indexOf(':');
  if (colon >= 0) return existsSync(`${events}/${tp.slice(0, colon)}/${tp.slice(colon + 1)}`);
  try {
    return readdirSync(events).some((cat) => existsSync(`${events}/${cat}/${tp}`));
  } catch {
    return false;
  }
}

let uprobeMulti: boolean | undefined;

/**
 * Whether this kernel has uprobe_multi links that filter by process (Linux
 * 6.9+): BpfObject.attachUprobeMulti() works. Probed once (two failing
 * system calls), then cached.
 */
export function uprobeMultiSupported(): boolean {
  uprobeMulti ??= native().probeUprobeMulti();
  return uprobeMulti;
}

/** Everything a tracing tool needs before it loads: privileges, BTF, tracefs and its tracepoints. */
export function preflight(opts: { tracepoints?: string[] } = {}): void {
  checkPrivileges();
  checkBtf();
  checkTracepoints(opts.tracepoints ?? []);
}
