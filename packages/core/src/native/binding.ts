// The native surface (native/*.cc), declared on its own: every call here is a
// libbpf or system call that takes and returns fds, numbers and bytes. All
// validation happens in TypeScript before these are called.
//
// Errors thrown by the native layer carry `code` (an errno name such as
// 'EPERM'), `errno`, and `libbpfLog` when libbpf explained itself (for a
// failed load, the verifier log).

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
  /** Stop a drain once this many bytes are batched (default 256 KiB). */
  batchBytes?: number;
  /** Drain at least this often when the kernel did not wake us (default 20 ms). */
  intervalMs?: number;
}

/** Called once per batch: `count` records framed as u32 length, u32 source, bytes, 8-aligned. */
export type BatchCallback = (batch: Buffer, count: number) => void;

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
  setVerbose(on: boolean): void;
  NativeObject: new (image: Buffer, name: string, btfCustomPath?: string) => NativeObject;
  RingReader: new (mapFds: number[], callback: BatchCallback, options: ReaderOptions) => NativeReader;
  PerfReader: new (
    mapFd: number,
    pagesPerCpu: number,
    callback: BatchCallback,
    options: ReaderOptions & { wakeupBytes?: number },
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
  /** Whether uprobe_multi links exist and filter by process (Linux 6.9+). */
  probeUprobeMulti(): boolean;
}
