// Block request operations and flags, named (exported from '@ebpf/core'):
// what biolatency -F and biosnoop print for a request's cmd_flags.
//
// A BPF program does not hand user space the kernel's cmd_flags: their
// operation numbers changed over the years (6.0 renumbered REQ_OP_*). The
// shared header bpf/include/ebpf/block.h (ebpf_rq_flags()) translates them in
// the kernel, with CO-RE, into the fixed codes below: the low byte is the
// operation (BIO_OP), bits 8-15 the raw number of an operation it does not
// know, bits 16 and up the flags (BIO_FL). Nothing here depends on the kernel
// version. The numbers are block.h's; test/blockflags.test.ts reads that file
// and checks that both agree.

/** Operation codes (the low byte of a code): block.h's BIO_OP_*. */
export const BIO_OP = {
  READ: 0,
  WRITE: 1,
  FLUSH: 2,
  DISCARD: 3,
  SECURE_ERASE: 4,
  WRITE_ZEROES: 5,
  WRITE_SAME: 6,
  ZONE_APPEND: 7,
  ZONE_OPEN: 8,
  ZONE_CLOSE: 9,
  ZONE_FINISH: 10,
  ZONE_RESET: 11,
  ZONE_RESET_ALL: 12,
  DRV_IN: 13,
  DRV_OUT: 14,
  SCSI_IN: 15,
  SCSI_OUT: 16,
  UNKNOWN: 255,
} as const;

/** Flag bits of a code: block.h's BIO_FL_*. */
export const BIO_FL = {
  SYNC: 1 << 16,
  META: 1 << 17,
  PRIO: 1 << 18,
  NOMERGE: 1 << 19,
  IDLE: 1 << 20,
  INTEGRITY: 1 << 21,
  FUA: 1 << 22,
  PREFLUSH: 1 << 23,
  RAHEAD: 1 << 24,
  BACKGROUND: 1 << 25,
  NOWAIT: 1 << 26,
} as const;

/** Operation names by code: BCC's where BCC has one, libbpf-tools' for the rest. */
const OPS: Record<number, string> = {
  [BIO_OP.READ]: 'Read',
  [BIO_OP.WRITE]: 'Write',
  [BIO_OP.FLUSH]: 'Flush',
  [BIO_OP.DISCARD]: 'Discard',
  [BIO_OP.SECURE_ERASE]: 'SecureErase',
  [BIO_OP.WRITE_ZEROES]: 'WriteZeros',
  [BIO_OP.WRITE_SAME]: 'WriteSame',
  [BIO_OP.ZONE_APPEND]: 'ZoneAppend',
  [BIO_OP.ZONE_OPEN]: 'ZoneOpen',
  [BIO_OP.ZONE_CLOSE]: 'ZoneClose',
  [BIO_OP.ZONE_FINISH]: 'ZoneFinish',
  [BIO_OP.ZONE_RESET]: 'ZoneReset',
  [BIO_OP.ZONE_RESET_ALL]: 'ZoneResetAll',
  [BIO_OP.DRV_IN]: 'DrvIn',
  [BIO_OP.DRV_OUT]: 'DrvOut',
  [BIO_OP.SCSI_IN]: 'SCSIIn',
  [BIO_OP.SCSI_OUT]: 'SCSIOut',
};

/**
 * Flag names in the order they print, left to right: BCC's order
 * (NoWait-Background-ReadAhead-Idle-NoMerge-Priority-ForcedUnitAccess-Metadata-Sync-),
 * with the two flags BCC lacks, PreFlush and Integrity, beside
 * ForcedUnitAccess.
 */
const FLAGS: Array<[mask: number, name: string]> = [
  [BIO_FL.NOWAIT, 'NoWait'],
  [BIO_FL.BACKGROUND, 'Background'],
  [BIO_FL.RAHEAD, 'ReadAhead'],
  [BIO_FL.IDLE, 'Idle'],
  [BIO_FL.NOMERGE, 'NoMerge'],
  [BIO_FL.PRIO, 'Priority'],
  [BIO_FL.PREFLUSH, 'PreFlush'],
  [BIO_FL.FUA, 'ForcedUnitAccess'],
  [BIO_FL.INTEGRITY, 'Integrity'],
  [BIO_FL.META, 'Metadata'],
  [BIO_FL.SYNC, 'Sync'],
];

export interface RequestFlags {
  /** The code from the BPF program (stable across kernels). */
  code: number;
  /** Operation name: Read, Write, Flush, Discard, ZoneAppend... or Unknown(N). */
  op: string;
  /** Flag names, in print order: ['Sync'], ['Priority', 'Metadata', 'Sync']... */
  flags: string[];
  /** As BCC prints it: flags and operation joined by "-", e.g. "Sync-Write". */
  text: string;
}

/** Names a code from ebpf_rq_flags(). */
export function decodeRequestFlags(code: number): RequestFlags {
  const opCode = code & 0xff;
  const op = opCode === BIO_OP.UNKNOWN ? `Unknown(${(code >>> 8) & 0xff})` : (OPS[opCode] ?? `Unknown(${opCode})`);
  const flags = FLAGS.filter(([mask]) => (code & mask) !== 0).map(([, name]) => name);
  return { code, op, flags, text: [...flags, op].join('-') };
}

/**
 * The operation of a code as one letter, as the kernel's rwbs (blktrace, the
 * block tracepoints) names it: R read, W write, F flush, D discard and secure
 * erase; N anything else (zone and driver operations). BCC's biosnoop prints
 * only R and W: a flush or a discard is "R" there.
 */
export function requestOpLetter(code: number): string {
  switch (code & 0xff) {
    case BIO_OP.READ:
      return 'R';
    case BIO_OP.WRITE:
      return 'W';
    case BIO_OP.FLUSH:
      return 'F';
    case BIO_OP.DISCARD:
    case BIO_OP.SECURE_ERASE:
      return 'D';
    default:
      return 'N';
  }
}
