// Names for the operation-and-flags codes biolatency.bpf.c puts in a -F key.
//
// The BPF program has already translated the running kernel's cmd_flags
// (whose REQ_OP_* numbers changed over the years) into these fixed codes:
// the low byte is the operation (BIO_OP_*), bits 8-15 the raw number of an
// operation it does not know, bits 16 and up the flags (BIO_FL_*). Nothing
// here depends on the kernel version.

/** Operation names by code: BCC's where BCC has one, libbpf-tools' for the rest. */
const OPS: Record<number, string> = {
  0: 'Read',
  1: 'Write',
  2: 'Flush',
  3: 'Discard',
  4: 'SecureErase',
  5: 'WriteZeros',
  6: 'WriteSame',
  7: 'ZoneAppend',
  8: 'ZoneOpen',
  9: 'ZoneClose',
  10: 'ZoneFinish',
  11: 'ZoneReset',
  12: 'ZoneResetAll',
  13: 'DrvIn',
  14: 'DrvOut',
  15: 'SCSIIn',
  16: 'SCSIOut',
};
const OP_UNKNOWN = 255;

/**
 * Flag names in the order they print, left to right: BCC's order
 * (NoWait-Background-ReadAhead-Idle-NoMerge-Priority-ForcedUnitAccess-Metadata-Sync-),
 * with the two flags BCC lacks, PreFlush and Integrity, beside
 * ForcedUnitAccess.
 */
const FLAGS: Array<[bit: number, name: string]> = [
  [26, 'NoWait'],
  [25, 'Background'],
  [24, 'ReadAhead'],
  [20, 'Idle'],
  [19, 'NoMerge'],
  [18, 'Priority'],
  [23, 'PreFlush'],
  [22, 'ForcedUnitAccess'],
  [21, 'Integrity'],
  [17, 'Metadata'],
  [16, 'Sync'],
];

export interface FlagSet {
  /** The code from the BPF program (stable across kernels). */
  code: number;
  /** Operation name: Read, Write, Flush, Discard, ZoneAppend... or Unknown(N). */
  op: string;
  /** Flag names, in print order: ['Sync'], ['Priority', 'Metadata', 'Sync']... */
  flags: string[];
  /** As BCC prints it: flags and operation joined by "-", e.g. "Sync-Write". */
  text: string;
}

/** Names a -F code. */
export function decodeFlags(code: number): FlagSet {
  const opCode = code & 0xff;
  const op = opCode === OP_UNKNOWN ? `Unknown(${(code >>> 8) & 0xff})` : (OPS[opCode] ?? `Unknown(${opCode})`);
  const flags = FLAGS.filter(([bit]) => (code >>> bit) & 1).map(([, name]) => name);
  return { code, op, flags, text: [...flags, op].join('-') };
}
