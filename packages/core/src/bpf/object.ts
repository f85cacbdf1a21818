// BPF objects in two stages, as in cilium/ebpf: an ObjectSpec is an opened,
// not-yet-loaded object you configure (config globals, autoload, map sizes);
// load() turns it into a BpfObject whose programs run in the kernel, which you
// attach, read and finally close. Every resource is closeable and close() is
// idempotent; whatever is still open when the process exits is closed then.
import { release } from 'node:os';
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { minimizedBtf } from './btf-cache.js';
import type { NativeGlobalInfo, NativeMapInfo, NativeObject, NativeProgramInfo, PerfEventSpec } from '../native/binding.js';
import { AttachError, ClosedError, EbpfError, LoadError, PreflightError, UsageError } from '../errors.js';
import { BpfMap } from './map.js';
import { native } from '../native/load.js';
import { nativeCode, nativeFailure } from '../native/errno.js';
import { quietLibbpfNotices } from './libbpf.js';
import { PerfBuffer, RingBuffer, type PerfBufferOptions, type RecordHandler, type RingBufferOptions } from '../stream/reader.js';
import { ensureTracefs, tracefsRoot } from '../kernel/preflight.js';
import { track, untrack, type Closeable } from './resources.js';

export { closeAll, type Closeable } from './resources.js';

export type ProgramInfo = NativeProgramInfo;
export type MapInfo = Omit<NativeMapInfo, 'fd'>;
export type GlobalInfo = NativeGlobalInfo;
export type GlobalValue = number | bigint | boolean | string | Uint8Array;

/** What object `obj` names in a failed native call: a program, a map, a global's map. */
interface Subject {
  program?: string;
  map?: string;
}

/**
 * The error for a failed native call on BPF object `obj`: '<what>: <errno
 * description>', or a plainer sentence where the operation says more.
 */
function objectError(obj: string, err: unknown, what: string, subject: Subject = {}): EbpfError {
  const f = nativeFailure(err);
  switch (f.op) {
    case 'closed':
      return new ClosedError(`BPF object ${obj}`);
    case 'find_program':
      return new EbpfError(`BPF object ${obj} has no program ${subject.program}`, f.code, { cause: err });
    case 'find_map':
      return new EbpfError(`BPF object ${obj} has no map ${subject.map}`, f.code, { cause: err });
    case 'global_unmapped':
      return new EbpfError(`${what}: ${subject.map} is not memory-mapped`, f.code, { cause: err });
    case 'global_range':
      return new EbpfError(`${what}: out of the range of ${subject.map}`, f.code, { cause: err });
    case 'global_readonly':
      return new EbpfError(`${what}: ${subject.map} is read-only once loaded`, f.code, { cause: err });
  }
  const e = nativeCode(err, what);
  return new EbpfError(e.message, e.code, { cause: err });
}

function encodeGlobal(g: GlobalInfo, value: GlobalValue): Buffer {
  const buf = Buffer.alloc(g.size);
  const bad = (why: string) => new UsageError(`global ${g.name} (${g.size} bytes): ${why}`);
  if (typeof value === 'boolean') {
    buf[0] = value ? 1 : 0;
  } else if (typeof value === 'number' || typeof value === 'bigint') {
    if (typeof value === 'number' && !Number.isInteger(value)) throw bad(`${value} is not an integer`);
    const v = BigInt(value);
    const bits = BigInt(g.size * 8);
    if (g.size > 8) throw bad('not an integer variable');
    if (v < -(1n << (bits - 1n)) || v >= 1n << bits) throw bad(`${value} does not fit`);
    const u = BigInt.asUintN(g.size * 8, v);
    for (let i = 0; i < g.size; i++) buf[i] = Number((u >> BigInt(i * 8)) & 0xffn);
  } else if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    if (bytes.length >= g.size) throw bad(`string of ${bytes.length} bytes does not fit with its NUL`);
    bytes.copy(buf);
  } else if (value instanceof Uint8Array) {
    if (value.length > g.size) throw bad(`${value.length} bytes do not fit`);
    buf.set(value);
  } else {
    throw bad(`unsupported value type ${typeof value}`);
  }
  return buf;
}

/** An opened, not yet loaded BPF object: configure it, then load(). */
export class ObjectSpec implements Closeable {
  readonly name: string;
  #native: NativeObject | undefined;
  #globals: Map<string, GlobalInfo>;
  #wakeupSet = false;

  /**
   * Opens a compiled BPF object (.bpf.o) from a file. CO-RE relocations use a
   * cached, minimized copy of the kernel's BTF when one can be made (see
   * btf-cache.ts); `fullKernelBtf: true` skips that.
   */
  static fromFile(path: string | URL, name?: string, opts: { fullKernelBtf?: boolean } = {}): ObjectSpec {
    let image: Buffer;
    try {
      image = readFileSync(path);
    } catch (err) {
      throw new EbpfError(`cannot read BPF object ${String(path)}: ${(err as Error).message}`, 'ENOENT', { cause: err });
    }
    const file = typeof path === 'string' ? path : fileURLToPath(path);
    const btf = opts.fullKernelBtf ? undefined : minimizedBtf(file, image);
    return new ObjectSpec(image, name ?? basename(file).replace(/\.bpf\.o$|\.o$/, ''), btf);
  }

  private constructor(image: Buffer, name: string, btfPath?: string) {
    this.name = name;
    const { NativeObject } = native();
    quietLibbpfNotices();
    try {
      this.#native = btfPath ? new NativeObject(image, name, btfPath) : new NativeObject(image, name);
    } catch (err) {
      const e = nativeCode(err, `cannot open BPF object ${name}`);
      throw new LoadError(e.message, e.code, e.log, err);
    }
    this.#globals = new Map(this.#native.globals().map((g) => [g.name, g]));
    track(this);
  }

  #obj(): NativeObject {
    if (!this.#native) throw new ClosedError(`BPF object ${this.name}`);
    return this.#native;
  }

  get programs(): ProgramInfo[] {
    return this.#obj().programs();
  }

  get maps(): MapInfo[] {
    return this.#obj().maps().map(({ fd: _fd, ...m }) => m);
  }

  get globals(): GlobalInfo[] {
    return [...this.#globals.values()];
  }

  /** Sets one global variable's initial value (for .rodata: its value for good). */
  setGlobal(name: string, value: GlobalValue): this {
    const g = this.#globals.get(name);
    if (!g) throw new UsageError(`BPF object ${this.name} has no global variable ${name}`);
    const bytes = encodeGlobal(g, value);
    const obj = this.#obj();
    this.#wrap(() => obj.writeGlobal(g.map, g.offset, bytes), `cannot set global ${name}`, { map: g.map });
    if (name === 'ebpf_wakeup_bytes') this.#wakeupSet = true;
    return this;
  }

  /** Sets `const volatile` config globals; undefined values are skipped. */
  setConfig(values: Record<string, GlobalValue | undefined>): this {
    for (const [k, v] of Object.entries(values)) if (v !== undefined) this.setGlobal(k, v);
    return this;
  }

  /** Keeps a program from loading (e.g. a fallback for another hook type). */
  setAutoload(program: string, on: boolean): this {
    const obj = this.#obj();
    this.#wrap(() => obj.setAutoload(program, on), `cannot set autoload of ${program}`, { program });
    return this;
  }

  /**
   * Loads a `SEC("uprobe")` / `SEC("uretprobe")` program for uprobe_multi
   * links (BpfObject.attachUprobeMulti()) instead of perf-event uprobes
   * (attachUprobe()); see uprobeMultiSupported().
   */
  setUprobeMulti(program: string): this {
    const obj = this.#obj();
    this.#wrap(() => obj.setExpectedAttachType(program, BPF_TRACE_UPROBE_MULTI), `cannot set the attach type of ${program}`, { program });
    return this;
  }

  setMaxEntries(map: string, n: number): this {
    if (!Number.isInteger(n) || n <= 0) throw new UsageError(`max entries of ${map} must be a positive integer`);
    const obj = this.#obj();
    this.#wrap(() => obj.setMaxEntries(map, n), `cannot set max entries of ${map}`, { map });
    return this;
  }

  /**
   * Makes map `map` the existing kernel map behind `fd` (a pinned map opened
   * by the caller): load creates no map for it, and the programs use that
   * one. The map takes its type and sizes from the kernel's; the caller
   * keeps its own fd (libbpf holds a duplicate) and may close it at once.
   */
  reuseMap(map: string, fd: number): this {
    const obj = this.#obj();
    this.#wrap(() => obj.reuseMapFd(map, fd), `cannot use the given map for ${map}`, { map });
    return this;
  }

  #wrap<T>(fn: () => T, what: string, subject?: Subject): T {
    try {
      return fn();
    } catch (err) {
      throw objectError(this.name, err, what, subject);
    }
  }

  /**
   * Loads every autoload program into the kernel. The spec is consumed: use
   * the returned BpfObject from now on.
   */
  load(): BpfObject {
    const obj = this.#obj();
    // Batched wake-ups (bpf/include/ebpf/output.h): by default a quarter of
    // the smallest ring buffer.
    if (!this.#wakeupSet && this.#globals.has('ebpf_wakeup_bytes')) {
      const rings = obj.maps().filter((m) => m.type === 'ringbuf');
      if (rings.length) this.setGlobal('ebpf_wakeup_bytes', Math.min(...rings.map((m) => m.maxEntries)) / 4);
    }
    try {
      obj.load();
    } catch (err) {
      const e = nativeCode(err, `cannot load BPF object ${this.name}`);
      if (e.code === 'EPERM' && process.geteuid?.() !== 0) {
        throw new PreflightError('not-root', 'need root (or CAP_BPF and CAP_PERFMON) to load BPF programs');
      }
      throw new LoadError(olderKernelReason(e.log) ?? e.message, e.code, e.log, err);
    }
    this.#native = undefined;
    untrack(this);
    return new BpfObject(this.name, obj, this.#globals);
  }

  close(): void {
    this.#native?.close();
    this.#native = undefined;
    untrack(this);
  }
}

export interface UprobeOptions {
  /** Path of the binary or library (resolved by libbpf when not absolute). */
  binary: string;
  /** Function name (libbpf resolves it in the ELF symbols); or give `offset`. */
  symbol?: string;
  /** Byte offset in the file: the probe address when `symbol` is absent, else added to it. */
  offset?: number;
  /** Only this process (default: every process mapping the binary). */
  pid?: number;
  retprobe?: boolean;
}

export interface UprobeMultiOptions {
  /** Path of the binary or library. */
  binary: string;
  /** File offsets of the probes (see symbolize's uprobeOffset()). */
  offsets: number[];
  /** One bpf_get_attach_cookie() value per offset. */
  cookies?: Array<number | bigint>;
  /** Only this process (default: every process mapping the binary). */
  pid?: number;
  retprobe?: boolean;
}

export interface UsdtOptions {
  /** Binary or library holding the probe notes; default: found from `pid`. */
  binary: string;
  pid?: number;
  provider: string;
  name: string;
  /** A number the program reads with bpf_usdt_cookie(). */
  cookie?: number;
}

/** One attachment of a program to a hook. */
export class Link {
  #obj: BpfObject;
  #id: number;
  #attached = true;
  readonly program: string;
  constructor(obj: BpfObject, id: number, program: string) {
    this.#obj = obj;
    this.#id = id;
    this.program = program;
    obj._adopt(this);
  }
  get attached(): boolean {
    return this.#attached && !this.#obj.closed;
  }
  /** @internal the link id in the native object */
  get _id(): number {
    return this.#id;
  }
  /** @internal detached by BpfObject.detachAll() */
  _detached(): void {
    this.#attached = false;
  }
  detach(): void {
    if (!this.#attached) return;
    this.#attached = false;
    this.#obj._detach(this);
  }
}

/** enum bpf_attach_type: BPF_TRACE_UPROBE_MULTI. */
const BPF_TRACE_UPROBE_MULTI = 48;

const AUTO_ATTACH = /^(tracepoint|tp|raw_tracepoint|raw_tp|tp_btf|uprobe|uretprobe|usdt|kprobe|kretprobe|ksyscall|kretsyscall|iter|lsm|fentry|fexit|fmod_ret)[/.]/;

/** A loaded BPF object: its programs are in the kernel. */
export class BpfObject implements Closeable {
  readonly name: string;
  #native: NativeObject | undefined;
  #globals: Map<string, GlobalInfo>;
  #maps = new Map<string, BpfMap>();
  #readers = new Set<Closeable>();
  #links = new Set<Link>();

  /** @internal use ObjectSpec.load() */
  constructor(name: string, obj: NativeObject, globals: Map<string, GlobalInfo>) {
    this.name = name;
    this.#native = obj;
    this.#globals = globals;
    track(this);
  }

  get closed(): boolean {
    return this.#native === undefined;
  }

  #obj(): NativeObject {
    if (!this.#native) throw new ClosedError(`BPF object ${this.name}`);
    return this.#native;
  }

  get programs(): ProgramInfo[] {
    return this.#obj().programs();
  }

  /** `what`: the attachment, worded ('cannot attach ...'); undefined: the error's own words. */
  #attachError(program: string, err: unknown, what?: string): EbpfError {
    const f = nativeFailure(err);
    if (f.op === 'find_program' || f.op === 'closed') return objectError(this.name, err, '', { program });
    const e = nativeCode(err, what);
    const section = this.#obj().programs().find((p) => p.name === program)?.section ?? '';
    const tp = section.match(/^(?:tracepoint|tp)\/([^/]+)\/(.+)$/);
    if (tp && (e.code === 'ENOENT' || e.code === 'EINVAL')) {
      return new PreflightError('no-tracepoint', `tracepoint ${tp[1]}:${tp[2]} does not exist on this kernel`);
    }
    const raw = section.match(/^(?:raw_tp|raw_tracepoint|tp_btf)\/(.+)$/);
    if (raw && (e.code === 'ENOENT' || e.code === 'ESRCH' || e.code === 'EINVAL')) {
      return new PreflightError('no-tracepoint', `raw tracepoint ${raw[1]} does not exist on this kernel`);
    }
    return new AttachError(e.message, e.code, program, e.log, err);
  }

  /**
   * Attaches programs by their SEC() names: the ones named, or every autoload
   * program whose section says where it goes. Mounts tracefs first if needed.
   */
  attach(programs?: string | string[]): Link[] {
    const obj = this.#obj();
    const all = obj.programs();
    const names = programs === undefined
      ? all.filter((p) => p.autoload && AUTO_ATTACH.test(p.section)).map((p) => p.name)
      : [programs].flat();
    const needsTracefs = all.some((p) => names.includes(p.name) && /^(tracepoint|tp)\//.test(p.section));
    if (needsTracefs) ensureTracefs();
    const links: Link[] = [];
    try {
      for (const name of names) {
        const info = all.find((p) => p.name === name);
        if (!info) throw new UsageError(`BPF object ${this.name} has no program ${name}`);
        const tp = info.section.match(/^(?:tracepoint|tp)\/([^/]+)\/(.+)$/);
        if (tp && !existsSync(`${tracefsRoot()}/events/${tp[1]}/${tp[2]}`)) {
          throw new PreflightError('no-tracepoint', `tracepoint ${tp[1]}:${tp[2]} does not exist on this kernel`);
        }
        try {
          links.push(new Link(this, obj.attach(name), name));
        } catch (err) {
          throw this.#attachError(name, err, `cannot attach ${name} (${info.section})`);
        }
      }
    } catch (err) {
      for (const l of links) l.detach();
      throw err;
    }
    return links;
  }

  attachUprobe(program: string, opts: UprobeOptions): Link {
    const obj = this.#obj();
    if (!opts.symbol && opts.offset === undefined) throw new UsageError('uprobe needs a symbol or an offset');
    try {
      const id = obj.attachUprobe(program, !!opts.retprobe, opts.pid ?? -1, opts.binary, opts.symbol ?? null, opts.offset ?? 0);
      return new Link(this, id, program);
    } catch (err) {
      const kind = opts.retprobe ? 'uretprobe' : 'uprobe';
      throw this.#attachError(program, err, `cannot attach ${kind} ${opts.binary}:${opts.symbol || (opts.offset ?? 0)}`);
    }
  }

  /**
   * Uprobes at many offsets of one binary as a single uprobe_multi BPF link
   * (Linux 6.9+, see uprobeMultiSupported(); the program must have been
   * marked with ObjectSpec.setUprobeMulti() before load). Unlike perf-event
   * uprobes, whose detach the kernel serializes under a global lock with
   * several RCU waits each, these attach and detach in a few milliseconds.
   */
  attachUprobeMulti(program: string, opts: UprobeMultiOptions): Link {
    const obj = this.#obj();
    const offsets = opts.offsets;
    if (offsets.length === 0) throw new UsageError('uprobe_multi needs at least one offset');
    if (!offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) throw new UsageError('uprobe offsets must be non-negative integers');
    if (opts.cookies && opts.cookies.length !== offsets.length) throw new UsageError('uprobe_multi needs one cookie per offset');
    const cookies = opts.cookies ? opts.cookies.map((c) => BigInt.asUintN(64, BigInt(c))) : null;
    try {
      const id = obj.attachUprobeMulti(program, opts.binary, offsets, cookies, !!opts.retprobe, opts.pid ?? -1);
      return new Link(this, id, program);
    } catch (err) {
      throw this.#attachError(program, err, `cannot attach ${opts.retprobe ? 'uretprobe' : 'uprobe'}.multi ${opts.binary}`);
    }
  }

  attachUsdt(program: string, opts: UsdtOptions): Link {
    const obj = this.#obj();
    try {
      const id = obj.attachUsdt(program, opts.pid ?? -1, opts.binary, opts.provider, opts.name, opts.cookie ?? 0);
      return new Link(this, id, program);
    } catch (err) {
      throw this.#attachError(program, err, `cannot attach USDT ${opts.provider}:${opts.name} in ${opts.binary}`);
    }
  }

  /** Opens a perf event on each CPU (or the ones listed) and attaches the program to each. */
  attachPerfEvent(program: string, spec: Omit<PerfEventSpec, 'cpu'> & { cpus?: number[] }): Link[] {
    const obj = this.#obj();
    const { perfEventOpen, closeFd, possibleCpus } = native();
    const cpus = spec.cpus ?? Array.from({ length: possibleCpus() }, (_, i) => i);
    const links: Link[] = [];
    try {
      for (const cpu of cpus) {
        let fd: number;
        try {
          fd = perfEventOpen({ ...spec, cpu });
        } catch (err) {
          // CPUs that are possible but offline have no perf events.
          if (nativeCode(err).code === 'ENODEV' && spec.cpus === undefined) continue;
          throw this.#attachError(program, err);
        }
        try {
          links.push(new Link(this, obj.attachPerfEvent(program, fd), program));
        } catch (err) {
          closeFd(fd);
          throw this.#attachError(program, err, `cannot attach ${program} to a perf event`);
        }
      }
    } catch (err) {
      for (const l of links) l.detach();
      throw err;
    }
    return links;
  }

  /** @internal */
  _adopt(link: Link): void {
    this.#links.add(link);
  }

  /** @internal */
  _detach(link: Link): void {
    this.#links.delete(link);
    this.#native?.detach(link._id);
  }

  /**
   * Detaches every link at once, concurrently, off the JavaScript thread, and
   * resolves when the kernel has released them. Detaching a uprobe waits for
   * RCU grace periods (0.1-0.5 s each on some machines); one after the other,
   * twenty uprobes take seconds, together about as long as one. The links are
   * detached (`attached` false, `linkCount` 0) as soon as this is called; the
   * object stays open (maps can still be read) until close().
   */
  detachAll(): Promise<void> {
    if (!this.#native) return Promise.resolve();
    const links = [...this.#links];
    this.#links.clear();
    for (const l of links) l._detached();
    return this.#native.detachAsync(links.map((l) => l._id));
  }

  /** Links currently attached. */
  get linkCount(): number {
    return this.#native?.linkCount() ?? 0;
  }

  map(name: string): BpfMap {
    // Checked first: a cached BpfMap keeps the fd number, which after close()
    // may belong to another object (ringBuffer() would read its ring).
    const obj = this.#obj();
    let m = this.#maps.get(name);
    if (!m) {
      const info = obj.maps().find((x) => x.name === name);
      if (!info) throw new UsageError(`BPF object ${this.name} has no map ${name}`);
      m = new BpfMap(info, () => this.closed);
      this.#maps.set(name, m);
    }
    return m;
  }

  /** Reads a global variable (.bss/.data: the live value; .rodata: the config). */
  readGlobal(name: string): Buffer {
    const g = this.#globals.get(name);
    if (!g) throw new UsageError(`BPF object ${this.name} has no global variable ${name}`);
    const obj = this.#obj();
    try {
      return obj.readGlobal(g.map, g.offset, g.size);
    } catch (err) {
      throw objectError(this.name, err, `cannot read global ${name}`, { map: g.map });
    }
  }

  /** Reads an integer global of up to 8 bytes as a bigint. */
  readGlobalInt(name: string): bigint {
    const b = this.readGlobal(name);
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
    return v;
  }

  /**
   * Records dropped because a ring buffer was full, as counted by the BPF side
   * (bpf/include/ebpf/output.h keeps `<ring>_drops`).
   */
  ringDrops(ring: string): number {
    const counter = `${ring}_drops`;
    return this.#globals.has(counter) ? Number(this.readGlobalInt(counter)) : 0;
  }

  /** Reads one or more ring buffers; `onRecord` runs for each record of each batch. */
  ringBuffer(maps: string | string[], onRecord: RecordHandler, opts: RingBufferOptions = {}): RingBuffer {
    const names = [maps].flat();
    const fds = names.map((n) => {
      const m = this.map(n);
      if (m.type !== 'ringbuf') throw new UsageError(`map ${n} is a ${m.type}, not a ring buffer`);
      return m.fd;
    });
    const r = new RingBuffer(names, fds, onRecord, opts, () => names.reduce((s, n) => s + this.ringDrops(n), 0));
    this.#adopt(r);
    return r;
  }

  /** Reads a BPF_MAP_TYPE_PERF_EVENT_ARRAY. */
  perfBuffer(map: string, onRecord: RecordHandler, opts: PerfBufferOptions = {}): PerfBuffer {
    const m = this.map(map);
    if (m.type !== 'perf_event_array') throw new UsageError(`map ${map} is a ${m.type}, not a perf event array`);
    const r = new PerfBuffer(map, m.fd, onRecord, opts);
    this.#adopt(r);
    return r;
  }

  #adopt(r: Closeable & { onClose(cb: () => void): void }): void {
    this.#readers.add(r);
    r.onClose(() => this.#readers.delete(r));
  }

  /** Closes readers, detaches every link (concurrently), unloads programs and frees maps. Idempotent. */
  close(): void {
    if (!this.#native) return;
    for (const r of [...this.#readers]) r.close();
    for (const l of this.#links) l._detached();
    this.#links.clear();
    this.#native.close();
    this.#native = undefined;
    untrack(this);
  }
}

/**
 * What an older kernel lacks, read from libbpf's log, in one line; undefined
 * when the log shows no missing feature. (Kernels before 5.13 cannot load a
 * callback's subprogram, which bpf_loop() (5.17) needs: the verifier then says
 * only that func_info does not match.)
 */
function olderKernelReason(log: string): string | undefined {
  const kernel = `this kernel is ${release()}`;
  const helper = /unknown func (bpf_\w+)/.exec(log)?.[1];
  if (helper === 'bpf_loop' || /number of funcs in func_info doesn't match number of subprogs/.test(log)) {
    return `this tool needs Linux 5.17 or newer (bpf_loop() callbacks); ${kernel}`;
  }
  if (helper) return `this tool needs a newer kernel: it lacks the BPF helper ${helper}(); ${kernel}`;
  return undefined;
}
