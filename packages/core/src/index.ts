// @ebpf/core: libbpf for Node.js, and what every @ebpf tool shares.
//
//   const spec = ObjectSpec.fromFile('tool.bpf.o');    // open, not loaded
//   spec.setConfig({ targ_pid: 1234 });                 // const volatile globals
//   const obj = spec.load();                            // into the kernel
//   obj.attach();                                       // every program, by SEC()
//   const ring = obj.ringBuffer('events', (view, off, len) => { ... });
//   ...
//   obj.close();                                        // readers, links, programs, maps
//
// Output formatting lives in '@ebpf/core/format', CLI conventions in
// '@ebpf/core/cli', record decoding helpers in '@ebpf/core/decode'.
export { ObjectSpec, BpfObject, Link, closeAll } from './bpf/object.js';
export type { ProgramInfo, MapInfo, GlobalInfo, GlobalValue, UprobeOptions, UprobeMultiOptions, UsdtOptions, Closeable } from './bpf/object.js';
export { BpfMap, u32Key, u64Key } from './bpf/map.js';
export { RingBuffer, PerfBuffer } from './stream/reader.js';
export type { RecordHandler, RingBufferOptions, PerfBufferOptions } from './stream/reader.js';
export { Tracer } from './stream/tracer.js';
export type { TracerOptions, Decoder, LostCounts } from './stream/tracer.js';
export {
  preflight,
  checkPrivileges,
  checkBtf,
  checkTracepoints,
  hasTracepoint,
  hasTracingPrivileges,
  effectiveCapabilities,
  ensureTracefs,
  tracefsRoot,
  uprobeMultiSupported,
} from './kernel/preflight.js';
export {
  EbpfError,
  NativeLoadError,
  LoadError,
  AttachError,
  PreflightError,
  UsageError,
  ClosedError,
} from './errors.js';
export type { PreflightKind } from './errors.js';
export type { PerfEventSpec } from './native/binding.js';
export { setLibbpfVerbose, libbpfVersion, possibleCpus } from './bpf/libbpf.js';
export { OPEN_FLAGS, OPEN_ACCESS_MODES, openFlagNames, openFlagValue } from './kernel/flags.js';

/** perf_event_attr.type / config values for attachPerfEvent(). */
export const PerfType = { HARDWARE: 0, SOFTWARE: 1, TRACEPOINT: 2 } as const;
export const PerfSoftware = { CPU_CLOCK: 0, TASK_CLOCK: 1 } as const;
export { CumulativeMap, DoubleBufferedMap, log2Buckets } from './bpf/histmap.js';
export type { Log2Layout } from './bpf/histmap.js';
export {
  KERNEL_MINOR_BITS,
  kernelDev,
  fromKernelDev,
  parseDeviceNumber,
  blockDeviceName,
  kernelDevName,
  diskOf,
  findBlockDevice,
  listBlockDevices,
  resolveWholeDisk,
} from './kernel/blockdev.js';
export type { DeviceNumber, BlockDevice, Disk } from './kernel/blockdev.js';
export { BIO_OP, BIO_FL, decodeRequestFlags, requestOpLetter } from './kernel/blockflags.js';
export type { RequestFlags } from './kernel/blockflags.js';
export { mappedFiles, findMappedFile } from './kernel/procmaps.js';
export type { MappedFile, FileMatch, Mapping } from './kernel/procmaps.js';
export { which, entryPoint, startStopped, until, sleep, runToGate } from './kernel/launch.js';
export type { StartedCommand } from './kernel/launch.js';
export { parseProcStat, readProcStat, processState, processAlive, readComm, readProcStatus, pidMax, PID_LIMIT } from './kernel/procfs.js';
export type { ProcStat } from './kernel/procfs.js';
export { readSdtNotes, parseSdtNotes, hasSdtProbe } from './kernel/sdt.js';
export type { SdtProbe } from './kernel/sdt.js';
