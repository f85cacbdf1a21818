/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What hardirqs and softirqs keep per interrupt (or softirq vector): how many
 * ran, their summed time, and a log2 histogram of their times. All three are
 * kept always (a count and two adds: cheaper than a branch on the mode), so
 * -C, -d and the totals are only ways of printing them. Values only grow:
 * user space reads them with core's CumulativeMap (no clearing, no loss).
 *
 * It also declares what both tools' programs share: the load-time knobs core's
 * kit/irqstats.ts sets (targ_ns: -N, filter_cpu and targ_cpu: -c CPU) and
 * the per-CPU start time (the map `start`). A tool calls ebpf_irq_enter() at
 * its entry hook and ebpf_irq_exit() at its exit hook, which gives the time
 * to add with ebpf_irq_account(s, delta, targ_ns) (0: skip it).
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

/* ---- Load-time config ---- */
const volatile bool targ_ns = false;    /* -N: histogram slots in ns, else us */
const volatile bool filter_cpu = false; /* -c: one CPU only */
const volatile __u32 targ_cpu = 0;

/* Handlers do not nest on a CPU (hard irq handlers run with interrupts off,
 * softirqs do not interrupt each other), so a handler's start time is one
 * u64 per CPU (0: none we saw start). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} start SEC(".maps");

/* -c: the verifier drops this test when filter_cpu is false. */
static __always_inline bool ebpf_irq_wanted_cpu(void)
{
	return !filter_cpu || bpf_get_smp_processor_id() == targ_cpu;
}

/* A handler starts on this CPU: notes the time (on a CPU -c wants). */
static __always_inline void ebpf_irq_enter(void)
{
	__u32 zero = 0;
	__u64 *ts;

	if (!ebpf_irq_wanted_cpu())
		return;
	ts = bpf_map_lookup_elem(&start, &zero);
	if (ts)
		*ts = bpf_ktime_get_ns();
}

/* The time since this CPU's ebpf_irq_enter(), and clears it; 0 when its
 * start was not seen (it began before we attached) or -c leaves this CPU out. */
static __always_inline __u64 ebpf_irq_exit(void)
{
	__u32 zero = 0;
	__u64 *ts, delta;

	if (!ebpf_irq_wanted_cpu())
		return 0;
	ts = bpf_map_lookup_elem(&start, &zero);
	if (!ts || !*ts)
		return 0;
	delta = bpf_ktime_get_ns() - *ts;
	*ts = 0;
	return delta;
}

#endif /* __EBPF_IRQSTAT_H */
