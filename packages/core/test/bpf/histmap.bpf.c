// SPDX-License-Identifier: GPL-2.0
// Test program for DoubleBufferedMap (src/histmap.ts): every getppid() of the
// test process adds one to slot n % 8 of key 110 (n counts the calls) in
// whichever of two hash maps the one-slot ARRAY_OF_MAPS `current` points at.
#include "ebpf/common.h"

const volatile __u32 targ_tgid = 0;

#define SLOTS 8

struct hist {
	__u64 slots[SLOTS];
};
/* The value new keys start from. Also a global of the type: clang 14 writes
 * only a forward declaration of a struct no global uses, and libbpf then
 * cannot size the inner maps' values. */
struct hist hist_zero = {};

__u64 calls = 0;

struct hist_map {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, struct hist);
} hist_a SEC(".maps"), hist_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct hist_map);
} current SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int hist_getppid(void *ctx)
{
	struct hist *h;
	__u32 idx = 0, key = 110;
	__u64 n;
	void *m;

	if (ebpf_current_tgid() != targ_tgid)
		return 0;
	n = __sync_fetch_and_add(&calls, 1);
	m = bpf_map_lookup_elem(&current, &idx);
	if (!m)
		return 0;
	h = bpf_map_lookup_elem(m, &key);
	if (!h) {
		bpf_map_update_elem(m, &key, &hist_zero, BPF_NOEXIST);
		h = bpf_map_lookup_elem(m, &key);
		if (!h)
			return 0;
	}
	__sync_fetch_and_add(&h->slots[n & (SLOTS - 1)], 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
