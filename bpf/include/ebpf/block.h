/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the block I/O tools (biolatency, biosnoop) read from a
 * `struct request`, the same way on every kernel: which disk it is for, and
 * its operation and flags.
 *
 * 1. The disk. Before 5.17 a request named its disk directly (rq->rq_disk);
 *    since then it is rq->q->disk. A flavor of struct request with the old
 *    field lets bpf_core_field_exists() ask the running kernel which one it
 *    has. The result is the kernel's dev_t, major << 20 | minor (MINORBITS),
 *    of the whole disk: requests for a partition carry the disk, as in BCC.
 *
 * 2. The operation and flags. cmd_flags hold an operation (REQ_OP_*, the low
 *    REQ_OP_BITS bits) and flag bits (1 << __REQ_*). Tools that decode them
 *    with tables fixed at compile time go wrong when the kernel renumbers
 *    them, and it did in 6.0 (REQ_OP_ZONE_APPEND became 7, where
 *    REQ_OP_WRITE_SAME was). Here the numbers come from the running kernel:
 *    bpf_core_enum_value(enum req_op, REQ_OP_WRITE) is a CO-RE relocation
 *    that libbpf resolves at load time against the kernel's own BTF, and
 *    bpf_core_enum_value_exists() says whether this kernel has that operation
 *    at all. ebpf_rq_flags() turns cmd_flags into a project-defined,
 *    kernel-independent code (BIO_OP_* | BIO_FL_* below), which user space
 *    names with @ebpf/core's decodeRequestFlags().
 *
 * The codes below are also in packages/core/src/kernel/blockflags.ts; core's
 * test (blockflags.test.ts) reads them from this file and checks that both
 * agree.
 */
#ifndef __EBPF_BLOCK_H
#define __EBPF_BLOCK_H

#include "ebpf/common.h"

#define MINORBITS 20 /* the kernel's dev_t: major in the top 12 bits, minor in the low 20 */

/* ---- Operation and flag codes, stable across kernels ---- */

/* The low byte is the operation, bits 8-15 keep the raw operation number of
 * an unknown one, and bits 16 and up are flags. */
enum {
	BIO_OP_READ = 0,
	BIO_OP_WRITE = 1,
	BIO_OP_FLUSH = 2,
	BIO_OP_DISCARD = 3,
	BIO_OP_SECURE_ERASE = 4,
	BIO_OP_WRITE_ZEROES = 5,
	BIO_OP_WRITE_SAME = 6,
	BIO_OP_ZONE_APPEND = 7,
	BIO_OP_ZONE_OPEN = 8,
	BIO_OP_ZONE_CLOSE = 9,
	BIO_OP_ZONE_FINISH = 10,
	BIO_OP_ZONE_RESET = 11,
	BIO_OP_ZONE_RESET_ALL = 12,
	BIO_OP_DRV_IN = 13,
	BIO_OP_DRV_OUT = 14,
	BIO_OP_SCSI_IN = 15,
	BIO_OP_SCSI_OUT = 16,
	BIO_OP_UNKNOWN = 255,
};

enum {
	BIO_FL_SYNC = 1 << 16,
	BIO_FL_META = 1 << 17,
	BIO_FL_PRIO = 1 << 18,
	BIO_FL_NOMERGE = 1 << 19,
	BIO_FL_IDLE = 1 << 20,
	BIO_FL_INTEGRITY = 1 << 21,
	BIO_FL_FUA = 1 << 22,
	BIO_FL_PREFLUSH = 1 << 23,
	BIO_FL_RAHEAD = 1 << 24,
	BIO_FL_BACKGROUND = 1 << 25,
	BIO_FL_NOWAIT = 1 << 26,
};

/*
 * The operation enum is `enum req_op` since 6.0 and was `enum req_opf`
 * before. These local declarations name every operation we know under both;
 * the values here do not matter. The "___new" / "___old" suffixes are CO-RE
 * flavors: libbpf ignores them when matching against the kernel's BTF, so
 * `enum req_op___new` is the kernel's `enum req_op` and REQ_OP_READ___new
 * its REQ_OP_READ. (Two declarations are needed only because C forbids two
 * enumerators of the same name.)
 */
enum req_op___new {
	REQ_OP_READ___new, REQ_OP_WRITE___new, REQ_OP_FLUSH___new, REQ_OP_DISCARD___new,
	REQ_OP_SECURE_ERASE___new, REQ_OP_WRITE_ZEROES___new, REQ_OP_WRITE_SAME___new,
	REQ_OP_ZONE_APPEND___new, REQ_OP_ZONE_OPEN___new, REQ_OP_ZONE_CLOSE___new,
	REQ_OP_ZONE_FINISH___new, REQ_OP_ZONE_RESET___new, REQ_OP_ZONE_RESET_ALL___new,
	REQ_OP_DRV_IN___new, REQ_OP_DRV_OUT___new, REQ_OP_SCSI_IN___new, REQ_OP_SCSI_OUT___new,
};
enum req_opf___old {
	REQ_OP_READ___old, REQ_OP_WRITE___old, REQ_OP_FLUSH___old, REQ_OP_DISCARD___old,
	REQ_OP_SECURE_ERASE___old, REQ_OP_WRITE_ZEROES___old, REQ_OP_WRITE_SAME___old,
	REQ_OP_ZONE_APPEND___old, REQ_OP_ZONE_OPEN___old, REQ_OP_ZONE_CLOSE___old,
	REQ_OP_ZONE_FINISH___old, REQ_OP_ZONE_RESET___old, REQ_OP_ZONE_RESET_ALL___old,
	REQ_OP_DRV_IN___old, REQ_OP_DRV_OUT___old, REQ_OP_SCSI_IN___old, REQ_OP_SCSI_OUT___old,
};

/*
 * True when `op` is the kernel's REQ_OP_<name>. After relocation each
 * bpf_core_enum_value_exists() is a constant 0 or 1 and each
 * bpf_core_enum_value() the kernel's number; the verifier drops the branches
 * for operations this kernel does not have (libbpf poisons their relocations,
 * which is harmless in dead code).
 */
#define EBPF_IS_OP(op, name)                                                                \
	((bpf_core_enum_value_exists(enum req_op___new, REQ_OP_##name##___new) &&           \
	  (op) == bpf_core_enum_value(enum req_op___new, REQ_OP_##name##___new)) ||         \
	 (bpf_core_enum_value_exists(enum req_opf___old, REQ_OP_##name##___old) &&          \
	  (op) == bpf_core_enum_value(enum req_opf___old, REQ_OP_##name##___old)))

/* 1 << __REQ_<name> of this kernel, or 0 when it has no such flag. */
#define EBPF_REQ_BIT(name)                                                                  \
	(bpf_core_enum_value_exists(enum req_flag_bits, __REQ_##name)                       \
		 ? 1ULL << bpf_core_enum_value(enum req_flag_bits, __REQ_##name)             \
		 : 0)

/* The kernel's operation number -> BIO_OP_*. */
static __always_inline __u32 ebpf_rq_op(__u32 op)
{
	if (EBPF_IS_OP(op, READ)) return BIO_OP_READ;
	if (EBPF_IS_OP(op, WRITE)) return BIO_OP_WRITE;
	if (EBPF_IS_OP(op, FLUSH)) return BIO_OP_FLUSH;
	if (EBPF_IS_OP(op, DISCARD)) return BIO_OP_DISCARD;
	if (EBPF_IS_OP(op, SECURE_ERASE)) return BIO_OP_SECURE_ERASE;
	if (EBPF_IS_OP(op, WRITE_ZEROES)) return BIO_OP_WRITE_ZEROES;
	if (EBPF_IS_OP(op, WRITE_SAME)) return BIO_OP_WRITE_SAME;
	if (EBPF_IS_OP(op, ZONE_APPEND)) return BIO_OP_ZONE_APPEND;
	if (EBPF_IS_OP(op, ZONE_OPEN)) return BIO_OP_ZONE_OPEN;
	if (EBPF_IS_OP(op, ZONE_CLOSE)) return BIO_OP_ZONE_CLOSE;
	if (EBPF_IS_OP(op, ZONE_FINISH)) return BIO_OP_ZONE_FINISH;
	if (EBPF_IS_OP(op, ZONE_RESET)) return BIO_OP_ZONE_RESET;
	if (EBPF_IS_OP(op, ZONE_RESET_ALL)) return BIO_OP_ZONE_RESET_ALL;
	if (EBPF_IS_OP(op, DRV_IN)) return BIO_OP_DRV_IN;
	if (EBPF_IS_OP(op, DRV_OUT)) return BIO_OP_DRV_OUT;
	if (EBPF_IS_OP(op, SCSI_IN)) return BIO_OP_SCSI_IN;
	if (EBPF_IS_OP(op, SCSI_OUT)) return BIO_OP_SCSI_OUT;
	return BIO_OP_UNKNOWN | ((op & 0xff) << 8);
}

/* cmd_flags of this kernel -> BIO_OP_* | BIO_FL_*. Only the flags the tools
 * name are kept, so requests that differ in others (FAILFAST_*, POLLED...)
 * get the same code. */
static __always_inline __u32 ebpf_rq_flags(__u64 cmd_flags)
{
	/* The operation is the low REQ_OP_BITS bits, and the flag bits start right
	 * above them: the first flag bit, __REQ_FAILFAST_DEV, is REQ_OP_BITS. */
	__u32 op_bits = bpf_core_enum_value(enum req_flag_bits, __REQ_FAILFAST_DEV);
	__u32 out = ebpf_rq_op(cmd_flags & ((1ULL << (op_bits & 31)) - 1));

	if (cmd_flags & EBPF_REQ_BIT(SYNC)) out |= BIO_FL_SYNC;
	if (cmd_flags & EBPF_REQ_BIT(META)) out |= BIO_FL_META;
	if (cmd_flags & EBPF_REQ_BIT(PRIO)) out |= BIO_FL_PRIO;
	if (cmd_flags & EBPF_REQ_BIT(NOMERGE)) out |= BIO_FL_NOMERGE;
	if (cmd_flags & EBPF_REQ_BIT(IDLE)) out |= BIO_FL_IDLE;
	if (cmd_flags & EBPF_REQ_BIT(INTEGRITY)) out |= BIO_FL_INTEGRITY;
	if (cmd_flags & EBPF_REQ_BIT(FUA)) out |= BIO_FL_FUA;
	if (cmd_flags & EBPF_REQ_BIT(PREFLUSH)) out |= BIO_FL_PREFLUSH;
	if (cmd_flags & EBPF_REQ_BIT(RAHEAD)) out |= BIO_FL_RAHEAD;
	if (cmd_flags & EBPF_REQ_BIT(BACKGROUND)) out |= BIO_FL_BACKGROUND;
	if (cmd_flags & EBPF_REQ_BIT(NOWAIT)) out |= BIO_FL_NOWAIT;
	return out;
}

/* ---- The disk ---- */

struct request___old {
	struct gendisk *rq_disk;
};

/* The disk a request is for, as the kernel's dev_t (0 if none). */
static __always_inline __u32 ebpf_rq_dev(struct request *rq)
{
	struct gendisk *disk;

	if (bpf_core_field_exists(((struct request___old *)0)->rq_disk))
		disk = BPF_CORE_READ((struct request___old *)rq, rq_disk);
	else
		disk = BPF_CORE_READ(rq, q, disk);
	if (!disk)
		return 0;
	return ((__u32)BPF_CORE_READ(disk, major) << MINORBITS) | (__u32)BPF_CORE_READ(disk, first_minor);
}

#endif /* __EBPF_BLOCK_H */
