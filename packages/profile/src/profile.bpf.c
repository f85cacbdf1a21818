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
// (bpf_get_stack), and stored once each, by a hash of their frames.
//
// Nothing is sent per sample: counts stay in a hash map, keyed by
// (process, stacks, comm), and user space reads them once, at the report.
//
// Hook: SEC("perf_event"): attached by user space to the perf events it opens.
#include "ebpf/common.h"
#include "ebpf/container.h"   /* --cgroup, --cgroupmap, --mntnsmap (see there) */

/* ---- Load-time config ---- */
const volatile __u32 targ_tgid = 0;      /* -p: this process only (0: any) */
const volatile __u32 targ_tid = 0;       /* -L: this thread only (0: any) */
const volatile bool include_idle = false; /* -I: count samples of the idle task (pid 0) */
const volatile bool user_stacks = true;  /* false with -K */
const volatile bool kernel_stacks = true; /* false with -U */

#define MAX_STACK_DEPTH 127
#define EBPF_USTACK_DEPTH MAX_STACK_DEPTH
#include "ebpf/ustack.h"        /* the hashed stack store (struct ebpf_ustack) */
#define TASK_COMM_LEN 16

/* Stack ids below 3 are not ids (hashes are moved above them). */
#define STACK_NONE 0            /* there is no such stack (a kernel thread's user stack) */
#define STACK_SKIPPED 1         /* not collected (-U / -K) */
#define STACK_MISSED 2          /* not stored: `stacks` was full (or the walk failed) */
#define FIRST_STACK_ID 3

/* The key of a count, as BCC's: the process, its stacks, its name. */
struct profile_key {
	__u32 pid;                 /* the process (tgid), as BCC */
	__u32 pad;
	__u64 user_stack_id;       /* in `stacks`, or one of the values above */
	__u64 kern_stack_id;
	char comm[TASK_COMM_LEN];
};
EBPF_EXPORT(profile_key);

/* One stack: `nr` instruction pointers, innermost first (ebpf/ustack.h). */
EBPF_EXPORT(ebpf_ustack);

/* ---- Maps ---- */

/* key → samples. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct profile_key);
	__type(value, __u64);
} counts SEC(".maps");

/* Stack id (a 64-bit hash of its frames) → the stack. BCC's stack trace
 * map (BPF_MAP_TYPE_STACK_TRACE) keeps one stack per bucket and loses a
 * stack whose bucket is taken, even with room to spare: a few hundred
 * stacks in its 16384 buckets collide about once. A hash map keyed by a
 * 64-bit hash does not collide in practice, and misses a stack only when
 * --stack-storage-size distinct stacks are stored already. Preallocated:
 * this runs in an interrupt. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct ebpf_ustack);
} stacks SEC(".maps");

/* Where a stack is walked before it is stored: one per CPU. */
EBPF_USTACK_SCRATCH(scratch);

/* Counters user space reads from .bss. */
__u64 samples = 0;         /* every sample counted */
__u64 counts_full = 0;     /* samples not counted: `counts` had no room for a new key */

/* ---- Stacks ---- */

/* Walks one stack of the interrupted code (ctx holds its registers; flags
 * 0: kernel, BPF_F_USER_STACK: user), stores it once under the hash of its
 * frames (ebpf/ustack.h), returns its id. */
static __always_inline __u64 stack_id(void *ctx, __u64 flags)
{
	struct ebpf_ustack *s = ebpf_ustack_scratch(&scratch);
	__u64 hash, id;
	long n;

	if (!s)
		return STACK_MISSED;
	n = ebpf_get_stack(ctx, s, flags, &hash);
	/* A kernel thread, or a sample in the kernel with no user context,
	 * has no user stack: that is not a miss. */
	if (n <= 0)
		return n == 0 || n == -14 /* EFAULT */ ? STACK_NONE : STACK_MISSED;
	id = ebpf_stack_store(&stacks, s, hash, FIRST_STACK_ID);
	return id ? id : STACK_MISSED;
}

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
	if (!ebpf_container_allowed())
		return 0; /* the interrupted task is current */

	key.pid = tgid;
	bpf_get_current_comm(&key.comm, sizeof(key.comm));
	key.kern_stack_id = kernel_stacks ? stack_id(ctx, 0) : STACK_SKIPPED;
	key.user_stack_id = user_stacks ? stack_id(ctx, BPF_F_USER_STACK) : STACK_SKIPPED;

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
