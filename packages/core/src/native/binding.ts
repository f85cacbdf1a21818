// The native surface (native/*.cc), declared on its own: every call here is a
// libbpf or system call that takes and returns fds, numbers and bytes. All
// validation happens in TypeScript before these are called.
//
// Errors thrown by the native layer are raw: `op` (also the message) names the
// operation that failed (a libbpf function or system call, e.g.
// 'bpf_object__load'), `errno` is the positive error number, and `libbpfLog`
// holds what libbpf printed during the call (for a failed load, the verifier
// log). The TypeScript layers word them (errno.ts, and each caller's context).
// The plain functions below reach callers through native() already worded
// (see load.ts); the classes' errors are worded by their TypeScript owners.
// Nothing here has defaults: every policy value is passed in.

/** An error as the native layer throws it. */
export interface RawNativeError extends Error {
  op: string;
  errno: number;
  libbpfLog?: string;
}

export interface NativeProgramInfo {
  name: string;
  section: string;
  type: string;
  autoload: boolean;
}

export interface NativeMapInfo {
  name: string;
  type: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  internal: boolean;
  fd: number;
}

export interface NativeGlobalInfo {
  name: string;
  /** ELF section: .rodata, .bss, .data... */
  section: string;
  /** libbpf's internal map backing the section. */
  map: string;
  offset: number;
  size: number;
}

export interface NativeObject {
  programs(): NativeProgramInfo[];
  maps(): NativeMapInfo[];
  globals(): NativeGlobalInfo[];
  setAutoload(program: string, on: boolean): void;
  setMaxEntries(map: string, n: number): void;
  /** Before load: the map becomes the kernel map behind fd (libbpf dups it; the caller closes its own). */
  reuseMapFd(map: string, fd: number): void;
  /** The attach type the program is verified for (a bpf_attach_type number). Before load. */
  setExpectedAttachType(program: string, type: number): void;
  writeGlobal(map: string, offset: number, bytes: Buffer): void;
  readGlobal(map: string, offset: number, length: number): Buffer;
  load(): void;
  /** Attach by the program's SEC() name; returns a link id. */
  attach(program: string): number;
  attachUprobe(program: string, retprobe: boolean, pid: number, binary: string, func: string | null, offset: number): number;
  attachUsdt(program: string, pid: number, binary: string, provider: string, name: string, cookie: number): number;
  /**
   * One uprobe_multi BPF link (Linux 6.6+) for uprobes at these file offsets of
   * `binary`; the program must be loaded with expected attach type
   * BPF_TRACE_UPROBE_MULTI. pid <= 0: every process. Returns a link id.
   */
  attachUprobeMulti(program: string, binary: string, offsets: number[], cookies: bigint[] | null, retprobe: boolean, pid: number): number;
  /** The link takes ownership of perfFd. */
  attachPerfEvent(program: string, perfFd: number): number;
  detach(link: number): void;
  /**
   * Takes these links out of the object at once and destroys them concurrently
   * on worker threads; resolves when the kernel has released them all.
   */
  detachAsync(links: number[]): Promise<void>;
  linkCount(): number;
  mapFd(map: string): number;
  programFd(program: string): number;
  close(): void;
}

export interface ReaderOptions {
  /** Stop a drain once this many bytes are batched. Required. */
  batchBytes: number;
  /** Drain at least this often when the kernel did not wake us. Required. */
  intervalMs: number;
}

/**
 * Called once per batch: `count` records in the first `byteLength` bytes of
 * `batch`, each framed as u32 length, u32 source, bytes, 8-byte aligned.
 * `batch` is the reader's one batch buffer, the same object every call (a
 * record larger than its spare room moves the reader to a new, larger one for
 * good); its bytes are valid only during the call: the next drain, or a
 * flush() made from inside the callback, writes over them.
 */
export type BatchCallback = (batch: Buffer, count: number, byteLength: number) => void;

export interface NativeReader {
  close(): void;
  pause(): void;
  resume(): void;
  /** Drain everything available now, synchronously; returns records delivered. */
  flush(): number;
}

export interface NativePerfReader extends NativeReader {
  /** Samples the kernel dropped because the buffer was full. */
  lost(): number;
}

export interface PerfEventSpec {
  type: number;
  config: number;
  cpu?: number;
  pid?: number;
  period?: number;
  frequency?: number;
}

export interface Binding {
  libbpfVersion: string;
  /** Print libbpf's output, debug lines included, to stderr. */
  setVerbose(on: boolean): void;
  /** libbpf notices (not debug lines) containing any of these are dropped: not printed, not captured. */
  setLogFilter(substrings: string[]): void;
  /** The description of an error number: strerror(3), or libbpf's for its own (4000 and up). */
  strerror(errno: number): string;
  NativeObject: new (image: Buffer, name: string, btfCustomPath?: string) => NativeObject;
  RingReader: new (mapFds: number[], callback: BatchCallback, options: ReaderOptions) => NativeReader;
  PerfReader: new (
    mapFd: number,
    pagesPerCpu: number,
    callback: BatchCallback,
    options: ReaderOptions & { wakeupBytes: number },
  ) => NativePerfReader;
  mapLookup(fd: number, key: Buffer, valueOut: Buffer): boolean;
  mapLookupAndDelete(fd: number, key: Buffer, valueOut: Buffer): boolean;
  mapUpdate(fd: number, key: Buffer, value: Buffer, flags: number): void;
  mapDelete(fd: number, key: Buffer): boolean;
  mapNextKey(fd: number, key: Buffer | null, nextOut: Buffer): boolean;
  mapLookupBatch(
    fd: number,
    inBatch: Buffer | null,
    outBatch: Buffer,
    keysOut: Buffer,
    valuesOut: Buffer,
    count: number,
    andDelete: boolean,
  ): { count: number; done: boolean };
  perfEventOpen(spec: PerfEventSpec): number;
  closeFd(fd: number): void;
  mountTracefs(path: string): void;
  possibleCpus(): number;
  /** A pinned BPF object's fd, by its bpffs path (BPF_OBJ_GET). */
  objGet(path: string): number;
  /** What the kernel says about the map behind fd. */
  mapInfo(fd: number): { type: string; keySize: number; valueSize: number; maxEntries: number; name: string };
  /** Whether uprobe_multi links exist and filter by process (Linux 6.9+). */
  probeUprobeMulti(): boolean;
}
