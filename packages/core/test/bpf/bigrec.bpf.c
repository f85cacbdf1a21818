// SPDX-License-Identifier: GPL-2.0
// Test program for the readers' batch buffer (src/stream/reader.ts): every
// getppid() of the test process writes one record of sizes[n % 16] bytes (n
// counts the calls) to the `records` ring buffer, large ones included (up to
// 128 KiB, more than a batch buffer's spare room). The record's bytes are the
// `payload` array's value (a pattern the test writes), with the call number
// in the first 8 bytes and the size in the next 4.
#include "ebpf/common.h"
#include "ebpf/output.h"

const volatile __u32 targ_tgid = 0;

#define PAYLOAD (128 * 1024)

__u32 sizes[16] = {};
__u64 calls = 0;

EBPF_RINGBUF(records, 1024 * 1024);

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__uint(value_size, PAYLOAD);
} payload SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int bigrec_getppid(void *ctx)
{
	__u32 zero = 0, len;
	__u64 n;
	__u8 *p;

	if (ebpf_current_tgid() != targ_tgid)
		return 0;
	n = __sync_fetch_and_add(&calls, 1);
	p = bpf_map_lookup_elem(&payload, &zero);
	if (!p)
		return 0;
	len = sizes[n & 15];
	if (len < 12 || len > PAYLOAD)
		return 0;
	*(__u64 *)p = n;
	*(__u32 *)(p + 8) = len;
	ebpf_output(records, p, len);
	return 0;
}
