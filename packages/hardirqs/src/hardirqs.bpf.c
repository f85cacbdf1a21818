// SPDX-License-Identifier: GPL-2.0
//
// hardirqs: time spent in each hard interrupt handler, built in the kernel.
//
// A hard interrupt runs its handlers (irqactions) with interrupts off on
// that CPU; each handler run is bracketed by two tracepoints:
//
//   irq:irq_handler_entry (irq, action)        action->name: "virtio1-req.0"
//   irq:irq_handler_exit  (irq, action, ret)
//
// Handlers do not nest on a CPU, so the start time is one u64 per CPU (a
// per-CPU array). At exit the time goes to the handler's name (as BCC and
// libbpf-tools key it: one line per name, so per-CPU actions that share a
// name add up). Not every interrupt has a handler here: the local APIC timer,
// IPIs (rescheduling, function calls) and such are handled without
// irqactions and never reach these tracepoints (/proc/interrupts lists them
// as LOC, RES, CAL...).
#include "ebpf/common.h"
#include "ebpf/irqstat.h"

#define IRQ_NAME_LEN 32

/* Load-time config (targ_ns: -N, filter_cpu and targ_cpu: -c) and the
 * per-CPU start time come with ebpf/irqstat.h. */

struct irq_key {
	char name[IRQ_NAME_LEN];
};
EBPF_EXPORT(irq_key);
EBPF_EXPORT(irq_stat);

/* ---- Maps ---- */

/* Per handler name, per CPU: only ever added to (names are few and last). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct irq_key);
	__type(value, struct irq_stat);
} stats SEC(".maps");

/* A new name's first value (.bss: 528 bytes do not fit the 512-byte stack). */
struct irq_stat zero_stat = {};

/* Handler runs not counted: the stats map was full (user space: lost()). */
__u64 names_full = 0;

/* ---- Entry points ---- */

SEC("tp_btf/irq_handler_entry")
int BPF_PROG(irq_handler_entry, int irq, struct irqaction *action)
{
	ebpf_irq_enter();
	return 0;
}

SEC("tp_btf/irq_handler_exit")
int BPF_PROG(irq_handler_exit, int irq, struct irqaction *action, int ret)
{
	struct irq_key key = {};
	struct irq_stat *s;
	__u64 delta;

	delta = ebpf_irq_exit();
	if (!delta)
		return 0; /* started before we attached, or not a CPU -c wants */
	/* action->name is a pointer to a string: typed access gets the
	 * pointer, the bytes need a probe read. */
	bpf_probe_read_kernel_str(key.name, sizeof(key.name), action->name);
	s = bpf_map_lookup_elem(&stats, &key);
	if (!s) {
		bpf_map_update_elem(&stats, &key, &zero_stat, BPF_NOEXIST);
		s = bpf_map_lookup_elem(&stats, &key);
		if (!s) {
			__sync_fetch_and_add(&names_full, 1);
			return 0;
		}
	}
	ebpf_irq_account(s, delta, targ_ns);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
