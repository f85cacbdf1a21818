// SPDX-License-Identifier: GPL-2.0
// Test program for CumulativeMap (src/bpf/histmap.ts): every getppid() of the
// test process adds 1 to `count` and n (the call's number, from 1) to `sum`,
// in a per-CPU array (index 1; index 0 stays zero) and in a hash (key 7).
// Nothing ever clears them.
#include "ebpf/common.h"

const volatile __u32 targ_tgid = 0;

struct counters {
	__u64 count;
	__u64 sum;
};
struct counters counters_zero = {};

__u64 calls = 0;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct counters);
} per_cpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct counters);
} shared SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int cumulative_getppid(void *ctx)
{
	__u32 idx = 1, key = 7;
	struct counters *c;
	__u64 n;

	if (ebpf_current_tgid() != targ_tgid)
		return 0;
	n = __sync_fetch_and_add(&calls, 1) + 1;
	c = bpf_map_lookup_elem(&per_cpu, &idx);
	if (c) {
		c->count++;
		c->sum += n;
	}
	c = bpf_map_lookup_elem(&shared, &key);
	if (!c) {
		bpf_map_update_elem(&shared, &key, &counters_zero, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&shared, &key);
		if (!c)
			return 0;
	}
	__sync_fetch_and_add(&c->count, 1);
	__sync_fetch_and_add(&c->sum, n);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
