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

/* Handlers do not nest on a CPU (hard irq handlers run with interrupts off,
 * softirqs do not interrupt each other), so a handler's start time is one
 * u64 per CPU: `start` is a one-slot BPF_MAP_TYPE_PERCPU_ARRAY of __u64. */
static __always_inline void ebpf_irq_enter(void *start)
{
	__u32 zero = 0;
	__u64 *ts = bpf_map_lookup_elem(start, &zero);

	if (ts)
		*ts = bpf_ktime_get_ns();
}

/* The time since this CPU's ebpf_irq_enter(), and clears it; 0 when its
 * start was not seen (it began before we attached). */
static __always_inline __u64 ebpf_irq_exit(void *start)
{
	__u32 zero = 0;
	__u64 *ts = bpf_map_lookup_elem(start, &zero), delta;

	if (!ts || !*ts)
		return 0;
	delta = bpf_ktime_get_ns() - *ts;
	*ts = 0;
	return delta;
}

#endif /* __EBPF_IRQSTAT_H */
