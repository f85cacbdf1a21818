// From a tool's declaration to a loaded, attached BPF object: find the
// object file, derive the hooks it needs from its SEC() names, run the
// preflight checks, set the knobs and map sizes, load, attach, and close
// everything again if any step fails.
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfObject, ObjectSpec, type GlobalValue, type ProgramInfo } from '../bpf/object.js';
import { UsageError } from '../errors.js';
import { hasTracepoint, preflight } from '../kernel/preflight.js';
import { applyContainerOptions } from './container.js';

export interface RingDef {
  /** The ring buffer map (default 'events'). */
  map?: string;
  /** The smallest default size in bytes, a power of two (with no `recordBytes`: the default). */
  defaultBytes: number;
  /**
   * Bytes of one typical record (the event struct and its usual variable
   * part): the default ring is then sized to hold a storm's worth of them,
   * see defaultRingBytes().
   */
  recordBytes?: number;
  /** Records per second per CPU the default is sized for (default RING_STORM_RATE). */
  ratePerCpu?: number;
}

/** Records per second per CPU a default ring is sized to absorb (an open() or exec storm on every CPU). */
export const RING_STORM_RATE = 50_000;
/** How long the reader may fall behind (a scheduler hiccup, a GC pause on a loaded machine) without a loss. */
export const RING_HICCUP_MS = 100;
/** The largest default ring (a larger one is the user's choice: ringBytes, -b). */
export const RING_MAX_DEFAULT = 256 << 20;

/**
 * A tool's default ring size: room for RING_HICCUP_MS of records arriving at
 * `ratePerCpu` on each of `cpus` CPUs (each record also takes the ring's
 * 8-byte header, and is 8-byte aligned), rounded up to a power of two,
 * between `defaultBytes` and RING_MAX_DEFAULT. Without `recordBytes`,
 * `defaultBytes`.
 */
export function defaultRingBytes(ring: RingDef, cpus: number = onlineCpus()): number {
  if (ring.recordBytes === undefined) return ring.defaultBytes;
  const record = Math.ceil((ring.recordBytes + 8) / 8) * 8;
  const want = (record * (ring.ratePerCpu ?? RING_STORM_RATE) * cpus * RING_HICCUP_MS) / 1000;
  let bytes = ring.defaultBytes;
  while (bytes < want && bytes < RING_MAX_DEFAULT) bytes *= 2;
  return bytes;
}

/** CPUs that can run tracers' events now (online; a VM's possible-but-absent CPUs send none). */
export function onlineCpus(): number {
  return cpus().length || 1;
}

const size = (n: number) => (n >= 1 << 20 ? `${n / (1 << 20)} MiB` : `${n / 1024} KiB`);

/** One line on the ring a run uses and why (what --verbose prints): its memory is locked kernel memory. */
export function describeRing(ring: RingDef, opts: object): string {
  const given = ringBytesOf(opts);
  if (given !== undefined) return `ring buffer ${size(given)} (as asked)`;
  const bytes = defaultRingBytes(ring);
  if (ring.recordBytes === undefined) return `ring buffer ${size(bytes)} (the default)`;
  const rate = ring.ratePerCpu ?? RING_STORM_RATE;
  return `ring buffer ${size(bytes)}: ${RING_HICCUP_MS} ms of ${rate} records/s per CPU on ${onlineCpus()} CPUs, ~${ring.recordBytes} bytes each${bytes === RING_MAX_DEFAULT ? ' (the largest default)' : ''}`;
}

/** The ring size a run uses: the `ringBytes` option, or the tool's default. */
export function ringBytesFor(ring: RingDef, opts: object): number {
  return ringBytesOf(opts) ?? defaultRingBytes(ring);
}

export interface ProgramDef<O, T = undefined> {
  /** The tool's name, as in messages. */
  name: string;
  /** The compiled object: `new URL('./tool.bpf.o', import.meta.url)`. From source (src/), ../dist is used. */
  object: URL;
  /**
   * Facts about what is traced, found once the machine passed preflight
   * (a process's library, its pid namespace): knobs, configure and attach
   * get them. Throws to refuse the target (nothing stays loaded).
   */
  target?: (opts: O) => T;
  /** `const volatile` knobs from the options (undefined values are left as compiled). */
  knobs?: (opts: O, target: T) => Record<string, GlobalValue | undefined>;
  /** Map sizes (max_entries) from the options. */
  maps?: (opts: O) => Record<string, number>;
  /** The ring the events flow through, sized by the `ringBytes` option. */
  ring?: RingDef;
  /**
   * The programs this run loads, from the options (default: all); the others
   * stay unloaded, and preflight checks only the tracepoints of these.
   */
  programs?: (opts: O) => readonly string[];
  /**
   * Programs whose tracepoint this kernel may lack (open() on arm64,
   * openat2() before 5.6): left unloaded there instead of failing preflight.
   */
  optional?: string[];
  /** Checks across options, before anything is loaded. */
  check?: (opts: O) => void;
  /** Anything else to do to the spec before load. */
  configure?: (spec: ObjectSpec, opts: O, target: T) => void;
  /** Attaches the programs (default: every loaded program by its SEC() name). */
  attach?: (obj: BpfObject, opts: O, target: T) => void;
  /** Undoes what `target` did (a process it started) when a later step fails. */
  release?: (target: T) => void;
}

/** A program whose target is found asynchronously (a command started and stopped before its first instruction). */
export type AsyncProgramDef<O, T> = Omit<ProgramDef<O, T>, 'target'> & { target: (opts: O) => Promise<T> };

/** A loaded, attached object and the target its program found. */
export interface LoadedProgram<T> {
  object: BpfObject;
  target: T;
}

/** The object file next to the module once built; in ../dist when running from source. */
export function objectFile(url: URL): URL {
  if (existsSync(url)) return url;
  const fromSource = new URL(`../dist/${basename(fileURLToPath(url))}`, url);
  return existsSync(fromSource) ? fromSource : url;
}

/**
 * The tracepoint a program's SEC() hooks: "category:name"; a bare name for
 * raw_tp/ and tp_btf/ (found in any category); undefined for other hook types.
 */
export function tracepointOf(p: Pick<ProgramInfo, 'section'>): string | undefined {
  const m = /^(?:tracepoint|tp)\/([^/]+)\/([^/]+)$/.exec(p.section);
  if (m) return `${m[1]}:${m[2]}`;
  return /^(?:raw_tp|raw_tracepoint|tp_btf)(?:\.w)?\/([^/]+)$/.exec(p.section)?.[1];
}

/** Checks the `ringBytes` option: a power of two from 4 KiB to 1 GiB. */
export function checkRingBytes(bytes: unknown): number {
  if (typeof bytes !== 'number' || !Number.isInteger(bytes) || bytes < 4096 || bytes > 2 ** 30 || (bytes & (bytes - 1)) !== 0) {
    throw new UsageError(`ringBytes must be a power of two from 4096 to 1 GiB, got ${String(bytes)}`);
  }
  return bytes;
}

/**
 * Opens, configures, loads and attaches a tool's BPF object. Throws a
 * PreflightError when the machine cannot run it, a UsageError for bad
 * options; nothing stays loaded when it throws.
 */
export function loadProgram<O extends object, T = undefined>(def: ProgramDef<O, T>, opts: O): BpfObject {
  return loadTarget(def, opts).object;
}

/** loadProgram(), with the target `def.target` found. */
export function loadTarget<O extends object, T = undefined>(def: ProgramDef<O, T>, opts: O): LoadedProgram<T> {
  const spec = openChecked(def, opts);
  let target: T;
  try {
    target = def.target?.(opts) as T;
  } catch (err) {
    spec.close();
    throw err;
  }
  return { object: finish(def, opts, spec, target), target };
}

/** loadTarget() for a target found asynchronously: everything else as loadProgram(). */
export async function loadTargetAsync<O extends object, T>(def: AsyncProgramDef<O, T>, opts: O): Promise<LoadedProgram<T>> {
  const spec = openChecked(def, opts);
  let target: T;
  try {
    target = await def.target(opts);
  } catch (err) {
    spec.close();
    throw err;
  }
  return { object: finish(def, opts, spec, target), target };
}

const ringBytesOf = (opts: object): number | undefined => (opts as { ringBytes?: number }).ringBytes;

/** Checks the options, opens the object and runs preflight for the tracepoints it will attach. */
function openChecked<O extends object>(def: Omit<ProgramDef<O, any>, 'target'>, opts: O): ObjectSpec {
  def.check?.(opts);
  if (def.ring) checkRingBytes(ringBytesFor(def.ring, opts));
  const spec = ObjectSpec.fromFile(objectFile(def.object), def.name);
  try {
    const optional = new Set(def.optional ?? []);
    const wanted = def.programs && new Set(def.programs(opts));
    const required: string[] = [];
    for (const p of spec.programs) {
      if (wanted && !wanted.has(p.name)) {
        spec.setAutoload(p.name, false);
        continue;
      }
      const tp = p.autoload ? tracepointOf(p) : undefined;
      if (!tp) continue;
      if (!optional.has(p.name)) required.push(tp);
      else if (!hasTracepoint(tp)) spec.setAutoload(p.name, false);
    }
    preflight({ tracepoints: required });
    return spec;
  } catch (err) {
    spec.close();
    throw err;
  }
}

/** Sets knobs and sizes, loads and attaches; closes everything (and releases the target) if a step fails. */
function finish<O extends object, T>(def: Omit<ProgramDef<O, T>, 'target'>, opts: O, spec: ObjectSpec, target: T): BpfObject {
  let obj: BpfObject | undefined;
  try {
    if (def.knobs) spec.setConfig(def.knobs(opts, target));
    applyContainerOptions(spec, def.name, opts); // --cgroup, --cgroupmap, --mntnsmap (kit/container.ts)
    for (const [map, n] of Object.entries(def.maps?.(opts) ?? {})) spec.setMaxEntries(map, n);
    if (def.ring) spec.setMaxEntries(def.ring.map ?? 'events', ringBytesFor(def.ring, opts));
    def.configure?.(spec, opts, target);
    obj = spec.load();
    if (def.attach) def.attach(obj, opts, target);
    else obj.attach();
    return obj;
  } catch (err) {
    if (obj) obj.close();
    else spec.close();
    def.release?.(target);
    throw err;
  }
}
