// @ebpf/core/kit: what a tool is built from. A tool declares its options, its
// BPF program (knobs, map sizes), its decoded event and its output forms; the
// kit does the rest: finding the object, preflight, load/attach/cleanup, the
// typed API, the CLI with the common flags, and every ending.
//
//   const tool = defineEventTool({ name, object, options, knobs, ring, decode });
//   export const mytool = (opts = {}) => tool.start(opts);       // the API
//   await runCli(name, (argv) => runEventCli({ tool, ...cli }, argv));   // the CLI
//
// Interval tools the same way: definePeriodicTool({ ..., reader }) gives a
// Periodic (snapshots), runPeriodicCli prints them (biolatency).
export { option, apiOption, timestampFlag, millisecondsOption, int, id32, pid, anyPid, user, regex, text, custom, ports, ipFamily, wholeDisk, checkOptions, commanderOption, commanderOptions } from './options.js';
export type { ValueType, OptionDef, OptionDefs, OptionsOf, FlagsOf } from './options.js';
export { loadProgram, loadTarget, loadTargetAsync, objectFile, tracepointOf, checkRingBytes, defaultRingBytes, describeRing, ringBytesFor, onlineCpus, RING_STORM_RATE, RING_HICCUP_MS, RING_MAX_DEFAULT } from './program.js';
export type { ProgramDef, AsyncProgramDef, RingDef, LoadedProgram } from './program.js';
export { containerOptions, socketContainerOptions, resolveCgroup, openPinnedKeyMap, hasContainerFilter, applyContainerOptions, CgroupPaths } from './container.js';
export type { ContainerOptions, CgroupTarget } from './container.js';
export { familyOption, familyFlags, familyOf, portOptions, tcpFilterKnobs, tcpDisplayFlags, portExamples, tcpSocketOptions, tcpSocketFlags, TCP_STORM_RATE, defineTcpTool, tcpFlow, tcpDecoder, tcpOwner, TcpColumns } from './tcp.js';
export type { TcpToolDef, RawTcpFlow, TcpFlow, TcpDisplayFlags, TcpRecordOffsets } from './tcp.js';
export { defineEventTool } from './event.js';
export type { EventTool, EventToolDef, LoadedEventTool, CommonOptions } from './event.js';
export { Periodic, checkInterval, definePeriodicTool } from './periodic.js';
export { defineIrqTool, runIrqCli, irqMain, irqOptions } from './irqstats.js';
export type { IrqStat, IrqSnapshot, IrqOptions, IrqToolDef, IrqCliDef } from './irqstats.js';
export type { PeriodicOptions, TakeSnapshot, IntervalOptions, PeriodicToolDef, PeriodicTool, Log2Histogram, HistogramSnapshot } from './periodic.js';
export { toolCommand, parseCommand, runCli, runEventCli, runPeriodicCli, runIntervalCli, intervalArgs, periodHead, BatchClock, eventJson, jsonTime } from './cli.js';
export type { CommandDef, ParsedCommand, EventCliDef, EventRun, PeriodicCliDef, IntervalCliDef, ArgDef, FastRow } from './cli.js';
export { RowBuffer, printable, CHUNK_BYTES } from '../format/rowbuffer.js';
export { flameGraphOption, prepareFlameGraph, writeFlameGraph } from './flamegraph.js';
export { runStackReportCli, stackSideOptions, checkStackSides, stackStorageOption, delimitedFlag, stackText, foldedStack } from './stackreport.js';
export type { StackReportCliDef, StackTextFlags, StackToolOptions, StackReport } from './stackreport.js';
