// Names for the operation-and-flags codes biolatency.bpf.c puts in a -F key.
//
// The BPF program has already translated the running kernel's cmd_flags
// (whose REQ_OP_* numbers changed over the years) into these fixed codes:
// the low byte is the operation (BIO_OP_*), bits 8-15 the raw number of an
// operation it does not know, bits 16 and up the flags (BIO_FL_*). Nothing
// here depends on the kernel version.
import {
  BIO_FL_BACKGROUND,
  BIO_FL_FUA,
  BIO_FL_IDLE,
  BIO_FL_INTEGRITY,
  BIO_FL_META,
  BIO_FL_NOMERGE,
  BIO_FL_NOWAIT,
  BIO_FL_PREFLUSH,
  BIO_FL_PRIO,
  BIO_FL_RAHEAD,
  BIO_FL_SYNC,
  BIO_OP_DISCARD,
  BIO_OP_DRV_IN,
  BIO_OP_DRV_OUT,
  BIO_OP_FLUSH,
  BIO_OP_READ,
  BIO_OP_SCSI_IN,
  BIO_OP_SCSI_OUT,
  BIO_OP_SECURE_ERASE,
  BIO_OP_UNKNOWN,
  BIO_OP_WRITE,
  BIO_OP_WRITE_SAME,
  BIO_OP_WRITE_ZEROES,
  BIO_OP_ZONE_APPEND,
  BIO_OP_ZONE_CLOSE,
  BIO_OP_ZONE_FINISH,
  BIO_OP_ZONE_OPEN,
  BIO_OP_ZONE_RESET,
  BIO_OP_ZONE_RESET_ALL,
} from './biolatency.gen.js';

/** Operation names by code: BCC's where BCC has one, libbpf-tools' for the rest. */
const OPS: Record<number, string> = {
  [BIO_OP_READ]: 'Read',
  [BIO_OP_WRITE]: 'Write',
  [BIO_OP_FLUSH]: 'Flush',
  [BIO_OP_DISCARD]: 'Discard',
  [BIO_OP_SECURE_ERASE]: 'SecureErase',
  [BIO_OP_WRITE_ZEROES]: 'WriteZeros',
  [BIO_OP_WRITE_SAME]: 'WriteSame',
  [BIO_OP_ZONE_APPEND]: 'ZoneAppend',
  [BIO_OP_ZONE_OPEN]: 'ZoneOpen',
  [BIO_OP_ZONE_CLOSE]: 'ZoneClose',
  [BIO_OP_ZONE_FINISH]: 'ZoneFinish',
  [BIO_OP_ZONE_RESET]: 'ZoneReset',
  [BIO_OP_ZONE_RESET_ALL]: 'ZoneResetAll',
  [BIO_OP_DRV_IN]: 'DrvIn',
  [BIO_OP_DRV_OUT]: 'DrvOut',
  [BIO_OP_SCSI_IN]: 'SCSIIn',
  [BIO_OP_SCSI_OUT]: 'SCSIOut',
};

/**
 * Flag names in the order they print, left to right: BCC's order
 * (NoWait-Background-ReadAhead-Idle-NoMerge-Priority-ForcedUnitAccess-Metadata-Sync-),
 * with the two flags BCC lacks, PreFlush and Integrity, beside
 * ForcedUnitAccess.
 */
const FLAGS: Array<[mask: number, name: string]> = [
  [BIO_FL_NOWAIT, 'NoWait'],
  [BIO_FL_BACKGROUND, 'Background'],
  [BIO_FL_RAHEAD, 'ReadAhead'],
  [BIO_FL_IDLE, 'Idle'],
  [BIO_FL_NOMERGE, 'NoMerge'],
  [BIO_FL_PRIO, 'Priority'],
  [BIO_FL_PREFLUSH, 'PreFlush'],
  [BIO_FL_FUA, 'ForcedUnitAccess'],
  [BIO_FL_INTEGRITY, 'Integrity'],
  [BIO_FL_META, 'Metadata'],
  [BIO_FL_SYNC, 'Sync'],
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
  const op = opCode === BIO_OP_UNKNOWN ? `Unknown(${(code >>> 8) & 0xff})` : (OPS[opCode] ?? `Unknown(${opCode})`);
  const flags = FLAGS.filter(([mask]) => (code & mask) !== 0).map(([, name]) => name);
  return { code, op, flags, text: [...flags, op].join('-') };
}
