// SPDX-License-Identifier: GPL-2.0
//
// exitsnoop: trace every process (or thread) that ends, with its age and why
// it ended: an exit code, or the signal that killed it and whether it dumped
// core.
//
// A lesson in what "a process exits" means to the kernel.
//
// The kernel has no "process exit": it has threads (tasks) that exit one by
// one, each through do_exit(), and a process (a thread group sharing one
// struct signal_struct) is gone when its last thread is. The thread that
// exits last need not be the main thread: a program's main() may call
// pthread_exit() and leave a worker running, which later calls exit(7). The
// classic tools report the process when its *main thread* exits, so they
// print "0" at that moment, while the process goes on running, and say
// nothing when it really ends with 7.
//
// The sched:sched_process_exit tracepoint fires in do_exit() for every
// exiting task. On recent kernels (6.18 here) it also carries `group_dead`:
// true for the one task that took the group's live-thread count
// (signal->live) to zero, i.e. the last thread of the process. That is the moment we report the
// process, with the status its parent's wait() will collect. With
// --per-thread we report every task instead.
//
// The tracepoint runs in the context of the exiting task, so
// bpf_get_current_task() is that task and its fields (start time, exit code,
// parent) are read from it with CO-RE, which adjusts every field offset to the
// running kernel's struct layout at load time.
//
// Hook (tracepoints only; no kprobes):
//   sched:sched_process_exit   every task's exit, in do_exit()
#include "ebpf/common.h"
#include "ebpf/output.h"
#include "ebpf/container.h"   /* --cgroup, --cgroupmap, --mntnsmap: ebpf_container_allowed() */
#include "ebpf/cgroup_id.h"   /* the event's cgroup v2 id */

/* ---- Load-time config: set by user space before load (const volatile = .rodata),
 * so the verifier sees them as constants and drops the branches they disable. */
const volatile bool per_thread = false; /* report every thread, not only whole processes */
const volatile bool failed_only = false; /* only non-zero statuses (exit code or signal) */
const volatile __u32 targ_tgid = 0;     /* only this process (0: all) */

/* signal->flags bit: the whole group is exiting (include/linux/sched/signal.h).
 * A #define, so not in BTF: its value has been 4 since Linux 2.6. */
#define SIGNAL_GROUP_EXIT 0x00000004

/* What user space receives, one per reported exit. */
struct event {
	__u64 ts;          /* bpf_ktime_get_ns() at exit: CLOCK_MONOTONIC */
	__u64 age_ns;      /* ts minus the process's (--per-thread: thread's) start time */
	EBPF_CGROUP_ID_FIELD; /* the exiting task's cgroup v2 id (do_exit() leaves its cgroup later) */
	__u32 pid;         /* thread-group id: what ps calls the PID */
	__u32 tid;         /* the exiting thread (for a process: the last one) */
	__u32 ppid;        /* parent's thread-group id: who wait()s for it */
	__u32 status;      /* wait status: (code << 8) | 0x80 if core dumped | signal */
	__u8 group_dead;   /* 1: the last thread of its process */
	char comm[16];     /* process name (--per-thread: the thread's name) */
};
EBPF_EXPORT(event);

/* ---- Maps ---- */

/* The ring buffer events go through (and its drop counter, events_drops).
 * A record takes 72 bytes (64 + the ring's 8-byte header), so 64 KiB holds
 * about 900 exits: a fork storm on two cores makes ~6000 a second here, and
 * the reader drains every 20 ms. User space may resize it before load. */
EBPF_RINGBUF(events, 64 * 1024);

/* ---- Helpers ---- */

/* Did this exit end the thread group? Recent kernels' tracepoint says so
 * (`group_dead`, computed by do_exit() from the atomic decrement of
 * signal->live). On older kernels the field does not exist and CO-RE removes
 * this branch; we then read signal->live ourselves: it has just been
 * decremented, so 0 means we were last. That read can race with a sibling
 * thread exiting at the same instant (both may see 0), which is why the
 * tracepoint's own answer is preferred. */
static __always_inline bool group_dead(struct trace_event_raw_sched_process_exit *ctx,
				       struct task_struct *task)
{
	if (bpf_core_field_exists(ctx->group_dead))
		return BPF_CORE_READ(ctx, group_dead);
	return BPF_CORE_READ(task, signal, live.counter) == 0;
}

/* The status the parent's wait() collects for the process: the kernel's
 * wait_task_zombie() takes signal->group_exit_code when the group exited as a
 * whole (exit_group(), a fatal signal, and on recent kernels also the last
 * thread exiting by itself: do_exit()'s synchronize_group_exit()), otherwise the main thread's own exit_code. Both are
 * wait statuses: code << 8 for exit(code), the signal number for a kill, plus
 * 0x80 when a core dump was written. */
static __always_inline __u32 process_status(struct task_struct *task)
{
	struct signal_struct *sig = BPF_CORE_READ(task, signal);

	if (BPF_CORE_READ(sig, flags) & SIGNAL_GROUP_EXIT)
		return BPF_CORE_READ(sig, group_exit_code);
	return BPF_CORE_READ(task, group_leader, exit_code);
}

/* ---- Entry point ---- */

SEC("tracepoint/sched/sched_process_exit")
int sched_process_exit(struct trace_event_raw_sched_process_exit *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct task_struct *leader;
	__u32 tgid = ebpf_current_tgid();
	bool dead = group_dead(ctx, task);
	__u64 start;
	__u32 status;
	struct event *e;

	/* Cheapest tests first: most exits are filtered out here. */
	if (targ_tgid && tgid != targ_tgid)
		return 0;
	if (!per_thread && !dead)
		return 0; /* a thread ended, its process lives on */
	if (!ebpf_container_allowed())
		return 0; /* the exiting task is current: its cgroup, its mount namespace */

	/* do_exit() stored the task's own status in task->exit_code before
	 * this tracepoint, so it can be read here (BCC and libbpf-tools rely on
	 * it too). A process's status is the group's. */
	if (per_thread) {
		status = BPF_CORE_READ(task, exit_code);
		start = BPF_CORE_READ(task, start_time);
	} else {
		status = process_status(task);
		/* The main thread may have exited long ago, but its task_struct
		 * stays until the parent reaps the process, so its start time
		 * (the process's) and name are still there to read. */
		leader = BPF_CORE_READ(task, group_leader);
		start = BPF_CORE_READ(leader, start_time);
	}
	if (failed_only && status == 0)
		return 0;

	e = ebpf_reserve(events, sizeof(*e));
	if (!e)
		return 0; /* ring full: counted in events_drops */
	/* start_time is CLOCK_MONOTONIC nanoseconds (ktime_get_ns() at fork),
	 * the same clock as bpf_ktime_get_ns(). */
	e->ts = bpf_ktime_get_ns();
	e->age_ns = e->ts > start ? e->ts - start : 0;
	e->cgroup_id = ebpf_current_cgroup_id();
	e->pid = tgid;
	e->tid = ebpf_current_tid();
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->status = status;
	e->group_dead = dead;
	if (per_thread)
		bpf_get_current_comm(e->comm, sizeof(e->comm));
	else
		BPF_CORE_READ_STR_INTO(&e->comm, task, group_leader, comm);
	ebpf_submit(events, e);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
