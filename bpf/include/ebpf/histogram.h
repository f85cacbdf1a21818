/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Log2 histograms built in the kernel (runqlat, hardirqs, softirqs): the
 * bucket of a value, in the convention user space prints with core's
 * log2Histogram(): bucket i holds values v with floor(log2(v)) == i, and 0
 * and 1 both go to bucket 0. EBPF_LOG2_SLOTS buckets hold any u64.
 */
#ifndef __EBPF_HISTOGRAM_H
#define __EBPF_HISTOGRAM_H

#define EBPF_LOG2_SLOTS 64

/* floor(log2(v)), 0 for v <= 1: a binary search over the bit positions,
 * branch-free. To index an array with it, use ebpf_log2_slot(). */
static __always_inline __u32 ebpf_log2(__u64 v)
{
	__u32 r = 0, shift;

	shift = (v > 0xffffffffULL) << 5; v >>= shift; r |= shift;
	shift = (v > 0xffff) << 4; v >>= shift; r |= shift;
	shift = (v > 0xff) << 3; v >>= shift; r |= shift;
	shift = (v > 0xf) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	return r | (__u32)(v >> 1);
}

/* The bucket of v, as an index the verifier can prove is below
 * EBPF_LOG2_SLOTS. The compiler knows ebpf_log2() < 64 and drops or splits a
 * plain `& 63`; 6.1's verifier does not follow the ORs and then rejects the
 * array access ("unbounded memory access"). barrier_var() hides what the
 * compiler knows, so the mask stays one instruction on the whole value. */
static __always_inline __u32 ebpf_log2_slot(__u64 v)
{
	__u32 slot = ebpf_log2(v);

	barrier_var(slot);
	return slot & (EBPF_LOG2_SLOTS - 1);
}

#endif /* __EBPF_HISTOGRAM_H */
