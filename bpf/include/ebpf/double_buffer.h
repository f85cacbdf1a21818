/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * double_buffer.h: the BPF side of core's DoubleBufferedMap (bpf/histmap.ts),
 * for the interval tools (biolatency, runqlat, syscount -P): two identical
 * maps, of which the program writes the one a map of maps points at, and
 * user space swaps them every interval, then reads and empties the retired
 * one with no count lost (the kernel waits for every running program to
 * return before the swap's bpf() call does).
 *
 *   struct my_map { __uint(type, ...); ... } my_a SEC(".maps"), my_b SEC(".maps");
 *   EBPF_CURRENT_MAP(current, my_map);     the map of maps (one slot), named
 *                                          as core's DoubleBufferedMap is told
 *   void *m = ebpf_current_map(&current);  the map to write now; NULL until
 *                                          user space has set the slot
 */
#ifndef __EBPF_DOUBLE_BUFFER_H
#define __EBPF_DOUBLE_BUFFER_H

#define EBPF_CURRENT_MAP(name, inner)                          \
	struct {                                               \
		__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);      \
		__uint(max_entries, 1);                        \
		__type(key, __u32);                            \
		__array(values, struct inner);                 \
	} name SEC(".maps")

static __always_inline void *ebpf_current_map(void *outer)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(outer, &zero);
}

#endif /* __EBPF_DOUBLE_BUFFER_H */
