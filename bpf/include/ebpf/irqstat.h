/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What hardirqs and softirqs keep per interrupt (or softirq vector): how many
 * ran, their summed time, and a log2 histogram of their times. All three are
 * kept always (a count and two adds: cheaper than a branch on the mode), so
 * -C, -d and the totals are only ways of printing them. Values only grow:
 * user space reads them with core's CumulativeMap (no clearing, no loss).
 */
#ifndef __EBPF_IRQSTAT_H
#define __EBPF_IRQSTAT_H

#include "ebpf/histogram.h"

struct irq_stat {
	__u64 count;                  /* handlers that ran */
	__u64 total_ns;               /* their time, summed */
	__u64 slots[EBPF_LOG2_SLOTS]; /* log2 of each one's time, in ns or us */
};

/* Adds one handler run of `delta_ns` to `s` (this CPU's copy: plain adds). */
static __always_inline void ebpf_irq_account(struct irq_stat *s, __u64 delta_ns, bool in_ns)
{
	s->count++;
	s->total_ns += delta_ns;
	s->slots[ebpf_log2_slot(in_ns ? delta_ns : delta_ns / 1000)]++;
}

#endif /* __EBPF_IRQSTAT_H */
