// SPDX-License-Identifier: GPL-2.0
// Programs for hooks this kernel does not have. They load (the verifier does
// not need the hook), but attaching must fail with a PreflightError
// 'no-tracepoint' that names the hook. `present` does attach: attaching
// everything must roll it back when a later program fails.
#include "ebpf/common.h"

SEC("tracepoint/syscalls/sys_enter_getppid")
int present(void *ctx)
{
	return 0;
}

SEC("tracepoint/ebpftest/no_such_event")
int missing_tp(void *ctx)
{
	return 0;
}

SEC("raw_tp/ebpftest_no_such_event")
int missing_raw_tp(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
