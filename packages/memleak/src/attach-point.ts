// Where to put a uprobe on an allocator function so the kernel does not have
// to single-step it: now in @ebpf/core (symbolize/probe-point.ts), shared
// with timemachine. Re-exported for memleak's modules and tests.
export { Reg, decode, kernelEmulates, findProbePoint, rel32Targets, type Insn, type ProbePointOptions, type ProbePoint } from '@ebpf/core/symbolize';
