// SPDX-License-Identifier: GPL-2.0
//
// softirqs: time spent in each kind of soft interrupt, built in the kernel.
//
// A softirq is deferred interrupt work (received packets: NET_RX, expired
// timers: TIMER, RCU callbacks...), run on the CPU that raised it, at the end
// of a hard interrupt or in the ksoftirqd thread. The kernel marks each run
// with two tracepoints carrying its vector number:
//
//   irq:softirq_entry (vec_nr)   a handler starts
//   irq:softirq_exit  (vec_nr)   it returns
//
// One CPU runs one softirq at a time (softirqs do not nest on a CPU), so the
// start time is one u64 per CPU: a per-CPU array, no key, no lock. At exit
// the time goes to the vector's irq_stat (ebpf/irqstat.h), also per CPU.
//
// tp_btf: the arguments arrive typed (vec_nr is a plain argument), no record
// is copied as a classic tracepoint would.
#include "ebpf/common.h"
#include "ebpf/irqstat.h"

#define NR_SOFTIRQS 10 /* the kernel's enum: HI_SOFTIRQ .. RCU_SOFTIRQ */

/* Load-time config (targ_ns: -N, filter_cpu and targ_cpu: -c) and the
 * per-CPU start time come with ebpf/irqstat.h. */

EBPF_EXPORT(irq_stat);

/* ---- Maps ---- */

/* Per vector, per CPU: only ever added to. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NR_SOFTIRQS);
	__type(key, __u32);
	__type(value, struct irq_stat);
} stats SEC(".maps");

/* ---- Entry points ---- */

SEC("tp_btf/softirq_entry")
int BPF_PROG(softirq_entry, unsigned int vec_nr)
{
	ebpf_irq_enter();
	return 0;
}

SEC("tp_btf/softirq_exit")
int BPF_PROG(softirq_exit, unsigned int vec_nr)
{
	__u32 vec = vec_nr;
	struct irq_stat *s;
	__u64 delta;

	delta = ebpf_irq_exit();
	if (!delta)
		return 0; /* started before we attached, or not a CPU -c wants */
	s = bpf_map_lookup_elem(&stats, &vec); /* an array: NULL only past NR_SOFTIRQS */
	if (s)
		ebpf_irq_account(s, delta, targ_ns);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
