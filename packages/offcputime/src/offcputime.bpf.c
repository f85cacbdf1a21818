// SPDX-License-Identifier: GPL-2.0
//
// offcputime: how long threads were blocked (off-CPU), by the stack they
// blocked in.
//
// A lesson in the scheduler's hottest hook. sched_switch fires on every
// context switch, a million times a second on a busy machine, with two tasks:
// `prev`, leaving the CPU, and `next`, taking it. One program does both
// halves of the measurement:
//
//   prev leaves  → note the time, and the stacks it is leaving from (it is
//                  still `current`, so its stacks can be walked now: later
//                  it will be asleep and its user stack out of reach)
//   next returns → its off-CPU time is now minus the time noted when it
//                  left; add it to the total of (thread, stacks, comm)
//
// Nothing is sent per event: the totals stay in a hash map, and user space
// reads them once, when it prints the report. Stacks are stored once each in
// a stack trace map, by id.
//
// What makes it cheap (this runs inside every context switch):
//   - the per-thread note lives in task storage: a slot hanging off the
//     task_struct itself, found by following a pointer instead of hashing a
//     thread id into a shared map, and freed by the kernel when the thread
//     exits (a hash map keeps the notes of threads that never come back,
//     and fills up);
//   - filters (-p, -t, -u, -k, --state) decide at switch-out, before any
//     stack is walked;
//   - the user stack is walked by this program, not by the kernel: the
//     kernel's walker ends each walk with a read that faults (see
//     user_stack_id()), and the fault costs more than the walk;
//   - a kernel thread's user stack is not walked (it has none); -U and -K
//     skip the other walk altogether.
//
// Stacks are stored once each, under a 64-bit hash of their frames. BCC's
// stack trace map keeps one stack per bucket and gives up on a stack whose
// bucket is taken ("missed", even with room to spare); a hash map keyed by a
// 64-bit hash does not collide in practice, and misses a stack only when
// --stack-storage-size distinct stacks are stored already.
//
// Hook:
//   tp_btf/sched_switch (BTF-typed raw tracepoint: `prev` and `next` arrive
//   as typed task_struct pointers that helpers such as
//   bpf_task_storage_get() accept; no tracefs event buffer is filled).
//   Needs Linux 5.17 (task storage, bpf_task_pt_regs, bpf_loop).
#include "ebpf/common.h"
#include "ebpf/container.h"   /* --cgroup, --cgroupmap, --mntnsmap (see there) */

/* ---- Load-time config (.rodata: the verifier sees constants and drops
 * the code of filters that are off) ---- */
const volatile __u32 targ_tgid = 0;           /* -p: this process only (0: any) */
const volatile __u32 targ_tid = 0;            /* -t: this thread only (0: any) */
const volatile bool user_threads_only = false;   /* -u */
const volatile bool kernel_threads_only = false; /* -k */
const volatile bool user_stacks = true;       /* false with -K */
const volatile bool kernel_stacks = true;     /* false with -U */
const volatile bool filter_state = false;     /* --state given */
const volatile __u32 targ_state = 0;          /* --state: a bitmask, or 0 for TASK_RUNNING (preempted) */
const volatile __u64 min_block_ns = 1000;     /* -m, in ns: shorter blocks are not counted */
const volatile __u64 max_block_ns = ~0ULL;    /* -M, in ns (the last ns of the -M microsecond) */

/* ---- What the maps hold ---- */

#define MAX_STACK_DEPTH 127     /* frames per stack (PERF_MAX_STACK_DEPTH) */
#define EBPF_USTACK_DEPTH MAX_STACK_DEPTH
#include "ebpf/ustack.h"        /* the user stack walk and the hashed stack store */
#define TASK_COMM_LEN 16
#define PF_KTHREAD 0x00200000   /* task_struct.flags: a kernel thread (include/linux/sched.h) */

/* Stack ids below 3 are not ids (hashes are moved above them). */
#define STACK_NONE 0            /* there is no such stack (a kernel thread's user stack) */
#define STACK_SKIPPED 1         /* not collected (-U / -K) */
#define STACK_MISSED 2          /* not stored: `stacks` was full (or the walk failed) */
#define FIRST_STACK_ID 3

/* The key of a total: one per thread, stack pair and name, as BCC's. */
struct offcpu_key {
	__u32 pid;                  /* the thread (kernel: pid) */
	__u32 tgid;                 /* its process (kernel: tgid) */
	__u64 user_stack_id;        /* in `stacks`, or one of the values above */
	__u64 kern_stack_id;
	char comm[TASK_COMM_LEN];
};
EBPF_EXPORT(offcpu_key);

/* One stack: `nr` instruction pointers, innermost first (ebpf/ustack.h). */
EBPF_EXPORT(ebpf_ustack);

/* What a thread leaves behind as it goes off-CPU. */
struct offcpu_start {
	__u64 ts;                   /* bpf_ktime_get_ns() at switch-out; 0: not timed */
	__u64 user_stack_id;
	__u64 kern_stack_id;
};

/* ---- Maps ---- */

/* key → total off-CPU nanoseconds. BCC sums whole microseconds per block,
 * which loses up to 1 µs each time; summing nanoseconds and dividing once
 * at print time does not. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);       /* BCC's size; user space may change it */
	__type(key, struct offcpu_key);
	__type(value, __u64);
} counts SEC(".maps");

/* Stack id (a hash of its frames) → the stack, ~1 KiB each. Preallocated
 * (as BCC's stack map): a map that allocates its rows as they come
 * (BPF_F_NO_PREALLOC) takes them from a per-CPU cache that is refilled
 * later, from an interrupt, and inside the scheduler the first stacks
 * found it empty and were lost. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);        /* --stack-storage-size */
	__type(key, __u64);
	__type(value, struct ebpf_ustack);
} stacks SEC(".maps");

/* One `struct offcpu_start` per thread, stored in the thread's task_struct. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* required for task storage */
	__type(key, int);
	__type(value, struct offcpu_start);
} start SEC(".maps");

/* Where a stack is walked before it is stored: one per CPU (a program
 * runs to its end on its CPU, and does not run again inside itself). */
EBPF_USTACK_SCRATCH(scratch);

/* Counters user space reads from .bss. */
__u64 counts_full = 0;      /* blocks not counted: `counts` had no room for a new key */
__u64 no_storage = 0;       /* switch-outs not timed: no task storage could be made */

/* ---- Helpers ---- */

/* Kernels before 5.14 call task_struct.__state `state` (a long). */
struct task_struct___pre514 {
	long state;
} __attribute__((preserve_access_index));

static __always_inline __u32 task_state(struct task_struct *t)
{
	if (bpf_core_field_exists(t->__state))
		return BPF_CORE_READ(t, __state);
	return BPF_CORE_READ((struct task_struct___pre514 *)t, state);
}

/* Whether the thread leaving the CPU is one to time (BCC's THREAD_FILTER
 * and STATE_FILTER). Every test reads a constant first, so the verifier
 * keeps only the ones asked for. */
static __always_inline bool wanted(struct task_struct *prev)
{
	if (targ_tgid && BPF_CORE_READ(prev, tgid) != targ_tgid)
		return false;
	if (targ_tid && BPF_CORE_READ(prev, pid) != targ_tid)
		return false;
	/* At sched_switch the task leaving is still current. */
	if (!ebpf_container_allowed())
		return false;
	if (user_threads_only && (BPF_CORE_READ(prev, flags) & PF_KTHREAD))
		return false;
	if (kernel_threads_only && !(BPF_CORE_READ(prev, flags) & PF_KTHREAD))
		return false;
	if (filter_state) {
		__u32 s = task_state(prev);
		/* --state 0: preempted while runnable; otherwise any bit in common */
		if (targ_state == 0 ? s != 0 : !(s & targ_state))
			return false;
	}
	return true;
}

/* ---- Stacks ----
 *
 * Stored once each under the FNV-1a hash of their frames, and user stacks
 * walked by this program, not by the kernel: both in ebpf/ustack.h.
 * bpf_get_stackid(BPF_F_USER_STACK) follows the same frame-pointer chain,
 * but stops only when a read fails, and reading there takes a page fault
 * that the kernel then recovers from. That fault cost more than the rest of
 * the walk, at every context switch. The walk in ebpf/ustack.h stops
 * *before* reading what cannot be a frame. */

/* Stores the stack in `stacks` (once) and returns its id. */
static __always_inline __u64 store_stack(struct ebpf_ustack *s, __u64 hash)
{
	__u64 id = ebpf_stack_store(&stacks, s, hash, FIRST_STACK_ID);

	return id ? id : STACK_MISSED;
}

/* The user stack of `task`, the current task, from the registers it
 * entered the kernel with. */
static __always_inline __u64 user_stack_id(struct task_struct *task)
{
	struct ebpf_ustack *s = ebpf_ustack_scratch(&scratch);
	struct pt_regs *regs;
	__u64 ip;

	if (!s)
		return STACK_MISSED;
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	if (!regs)
		return STACK_NONE;
	ip = BPF_CORE_READ(regs, ip);
	if (!ip)
		return STACK_NONE; /* never ran in user mode (an io_uring worker) */
	return store_stack(s, ebpf_user_stack_at(s, ip, BPF_CORE_READ(regs, sp), BPF_CORE_READ(regs, bp)));
}

/* The kernel stack of the current task: the kernel's own unwinder. It
 * starts inside this program (its frame and the tracepoint's); user space
 * leaves those frames out. (bpf_get_task_stack() of a sleeping task would
 * start where it slept, but leaves out every scheduler function on the
 * way: schedule_timeout, mutex and rwsem slow paths, io_schedule, the
 * very frames that say why a thread blocked.) */
static __always_inline __u64 kernel_stack_id(void *ctx)
{
	struct ebpf_ustack *s = ebpf_ustack_scratch(&scratch);
	__u64 hash;

	if (!s || ebpf_get_stack(ctx, s, 0, &hash) <= 0)
		return STACK_MISSED;
	return store_stack(s, hash);
}

/* ---- The two halves ---- */

/* prev is leaving: note the time, and where it is (it is still current). */
static __always_inline void switch_out(void *ctx, struct task_struct *prev)
{
	struct offcpu_start *s;

	if (!wanted(prev))
		return;
	s = bpf_task_storage_get(&start, prev, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!s) {
		__sync_fetch_and_add(&no_storage, 1);
		return;
	}
	if (!user_stacks)
		s->user_stack_id = STACK_SKIPPED;
	else if (BPF_CORE_READ(prev, flags) & PF_KTHREAD)
		s->user_stack_id = STACK_NONE;
	else
		s->user_stack_id = user_stack_id(prev);
	s->kern_stack_id = kernel_stacks ? kernel_stack_id(ctx) : STACK_SKIPPED;
	s->ts = bpf_ktime_get_ns();   /* last: the walks are on-CPU time */
}

/* next is back: add the time since it left to its total. */
static __always_inline void switch_in(struct task_struct *next)
{
	struct offcpu_key key = {};
	struct offcpu_start *s;
	__u64 delta, *total;

	/* No storage: it left before tracing began, or was filtered out. */
	s = bpf_task_storage_get(&start, next, 0, 0);
	if (!s || !s->ts)
		return;
	/* The switch-out that noted ts finished before this switch-in began
	 * (a task runs on one CPU at a time), so the difference is >= 0. */
	delta = bpf_ktime_get_ns() - s->ts;
	s->ts = 0;
	if (delta < min_block_ns || delta > max_block_ns)
		return;

	key.pid = BPF_CORE_READ(next, pid);
	key.tgid = BPF_CORE_READ(next, tgid);
	key.user_stack_id = s->user_stack_id;
	key.kern_stack_id = s->kern_stack_id;
	bpf_probe_read_kernel(&key.comm, sizeof(key.comm), &next->comm);

	total = bpf_map_lookup_elem(&counts, &key);
	if (total) {
		__sync_fetch_and_add(total, delta);
		return;
	}
	/* A new key. Another CPU may be adding the same one at this moment:
	 * BPF_NOEXIST lets one insert win, and the other adds to it. */
	if (bpf_map_update_elem(&counts, &key, &delta, BPF_NOEXIST) == 0)
		return;
	total = bpf_map_lookup_elem(&counts, &key);
	if (total)
		__sync_fetch_and_add(total, delta);
	else
		__sync_fetch_and_add(&counts_full, 1);
}

/* ---- Entry point ---- */

/* Runs in the context of prev, just before the CPU switches to next. */
SEC("tp_btf/sched_switch")
int BPF_PROG(sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	switch_out(ctx, prev);
	switch_in(next);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
