/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The entry gate: stop a command once at its ELF entry point, where every
 * library is mapped and none of its code has run, so user space can read its
 * mappings (symbols, the allocator it really loaded) before it goes on.
 * User space attaches `gate` there with a uprobe and waits for gate_hits to
 * move and the process to be stopped (core's runToGate()).
 *
 *   EBPF_ENTRY_GATE(is_target)   is_target: the tool's own "is this the
 *                                traced process?" test, called with no args
 */
#ifndef __EBPF_ENTRY_GATE_H
#define __EBPF_ENTRY_GATE_H

#include "ebpf/common.h"

#define EBPF_ENTRY_GATE(is_target)                                           \
	__u64 gate_hits = 0; /* times the gate stopped the target */            \
                                                                                 \
	SEC("uprobe")                                                            \
	int gate(struct pt_regs *ctx)                                            \
	{                                                                        \
		if (!is_target())                                                \
			return 0;                                                \
		bpf_send_signal(19 /* SIGSTOP */);                               \
		__sync_fetch_and_add(&gate_hits, 1);                             \
		return 0;                                                        \
	}

#endif /* __EBPF_ENTRY_GATE_H */
