// SPDX-License-Identifier: GPL-2.0
//
// profile: a CPU profiler. Every CPU is interrupted at a fixed rate (-F,
// 49 times a second by default) or every N nanoseconds of CPU time (-c);
// each interruption counts one sample for whatever was running there, by
// its user and kernel stacks.
//
// A lesson in perf events. A BPF program of type BPF_PROG_TYPE_PERF_EVENT
// runs when a perf event overflows: here the software event
// PERF_COUNT_SW_CPU_CLOCK, a per-CPU hrtimer (no hardware PMU needed, so it
// works in VMs and here). User space opens one event per CPU with
// perf_event_open() and attaches this program to each; the program runs in
// the timer interrupt, on the interrupted task, with the interrupted
// registers in ctx->regs. Both stacks are walked from there by the kernel
// (bpf_get_stackid), and stored once each in a stack trace map.
//
// Nothing is sent per sample: counts stay in a hash map, keyed by
// (process, stacks, comm), and user space reads them once, at the report.
//
// Hook: SEC("perf_event"): attached by user space to the perf events it opens.
#include "ebpf/common.h"

/* ---- Load-time config ---- */
const volatile __u32 targ_tgid = 0;      /* -p: this process only (0: any) */
const volatile __u32 targ_tid = 0;       /* -L: this thread only (0: any) */
const volatile bool include_idle = false; /* -I: count samples of the idle task (pid 0) */
const volatile bool user_stacks = true;  /* false with -K */
const volatile bool kernel_stacks = true; /* false with -U */

#define MAX_STACK_DEPTH 127
#define TASK_COMM_LEN 16

/* bpf_get_stackid()'s answer when a stack is not collected (-U / -K): not an errno. */
#define STACK_SKIPPED (-1000)

/* The key of a count, as BCC's: the process, its stacks, its name. */
struct profile_key {
	__u32 pid;                 /* the process (tgid), as BCC */
	__u32 pad;
	__s64 user_stack_id;       /* >= 0: in `stack_traces`; < 0: -errno, or STACK_SKIPPED */
	__s64 kern_stack_id;
	char comm[TASK_COMM_LEN];
};
EBPF_EXPORT(profile_key);

/* ---- Maps ---- */

/* key → samples. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct profile_key);
	__type(value, __u64);
} counts SEC(".maps");

/* Stack id → frames. A stack trace map is a hash table with one stack per
 * bucket: two stacks with the same bucket cannot both be kept, and the
 * second gets -EEXIST (BCC's "hash collision": a larger
 * --stack-storage-size helps). */
struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 16384);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, MAX_STACK_DEPTH * sizeof(__u64));
} stack_traces SEC(".maps");

/* Counters user space reads from .bss. */
__u64 samples = 0;         /* every sample counted */
__u64 counts_full = 0;     /* samples not counted: `counts` had no room for a new key */

/* ---- Entry point ---- */

SEC("perf_event")
int do_perf_event(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = id;
	struct profile_key key = {};
	__u64 one = 1, *n;

	/* The idle task is pid 0 on every CPU: a sample there is an idle CPU. */
	if (!include_idle && tid == 0)
		return 0;
	if (targ_tgid && tgid != targ_tgid)
		return 0;
	if (targ_tid && tid != targ_tid)
		return 0;

	key.pid = tgid;
	bpf_get_current_comm(&key.comm, sizeof(key.comm));
	/* In an interrupt the stacks are those of the interrupted code: ctx
	 * holds its registers. A kernel thread, or a sample taken in the
	 * kernel with no user context, has no user stack: -EFAULT, not a miss. */
	key.kern_stack_id = kernel_stacks ? bpf_get_stackid(ctx, &stack_traces, 0) : STACK_SKIPPED;
	key.user_stack_id = user_stacks ? bpf_get_stackid(ctx, &stack_traces, BPF_F_USER_STACK) : STACK_SKIPPED;

	__sync_fetch_and_add(&samples, 1);
	n = bpf_map_lookup_elem(&counts, &key);
	if (n) {
		__sync_fetch_and_add(n, 1);
		return 0;
	}
	/* A new key; another CPU may insert the same one now (BPF_NOEXIST). */
	if (bpf_map_update_elem(&counts, &key, &one, BPF_NOEXIST) == 0)
		return 0;
	n = bpf_map_lookup_elem(&counts, &key);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		__sync_fetch_and_add(&counts_full, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
