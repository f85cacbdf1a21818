// SPDX-License-Identifier: GPL-2.0
// A program the verifier must reject: it uses a map value without checking
// that the lookup found one. Tests check the error carries the verifier log.
// A hash map, not an array: since Linux 6.13 the verifier knows a lookup in an
// array with a constant in-range key cannot fail, and accepts the unchecked use.
#include "ebpf/common.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} counter SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int unchecked_lookup(void *ctx)
{
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(&counter, &zero);

	*v += 1; /* v may be NULL: rejected */
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
