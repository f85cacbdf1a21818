// SPDX-License-Identifier: GPL-2.0
//
// syscount: system calls counted (and, with -L, timed) per syscall or per
// process, in the kernel. User space reads the totals once per interval.
//
// Every system call on x86_64 passes two raw tracepoints, raw_syscalls's
// sys_enter (before the call runs, with its number) and sys_exit (after,
// with its return value). A count needs only sys_exit: the return value
// says whether the call failed (-x) and with which errno (-e). A latency
// (-L) needs both: sys_enter stores the time, sys_exit takes the difference.
//
// 1. The cost. These hooks fire on every system call of every process on
//    every CPU, so the path is as short as it can be:
//    - tp_btf (BTF-typed tracepoints): the arguments arrive as typed kernel
//      pointers, so the syscall number at exit is one load (regs->orig_ax)
//      the JIT inlines. A classic tracepoint (tracepoint/raw_syscalls/...)
//      first copies the whole record (number and six arguments) into a
//      buffer; raw_tp would need a bpf_probe_read_kernel() call per field.
//    - the per-syscall totals are a per-CPU array indexed by the syscall
//      number: no hash, no lock, no atomic instruction; each CPU adds to its
//      own copy and user space sums the copies. libbpf-tools' syscount uses
//      a shared hash map (a lookup per call, and atomic adds on cache lines
//      all CPUs write).
//    - the clock is read only with -L (bpf_ktime_get_ns() is the dearest
//      helper on a VM with kvm-clock), and the start time lives in the task
//      itself (task-local storage), not in a hash keyed by thread id.
//
// 2. Reading without losses. The per-syscall array is never cleared: its
//    counters only grow, and user space subtracts the previous reading each
//    interval (core's CumulativeMap). Per process (-P) the keys come and go,
//    so those totals live in one of two hash maps that user space swaps each
//    interval (core's DoubleBufferedMap). A process that finds its map full
//    is counted in `procs_full`, reported as lost.
//
// Hooks (tp_btf: there are no kprobes and no fentry on this kernel):
//   tp_btf/sys_enter   only with -L: note the time the call began
//   tp_btf/sys_exit    count the call (and its time) under its number or PID
#include "ebpf/common.h"
#include "ebpf/double_buffer.h" /* `current`: the map of maps user space swaps */
#include "ebpf/container.h"   /* --cgroup, --cgroupmap, --mntnsmap: ebpf_container_allowed() */

/* Syscall numbers are below this (x86_64 has about 470). Some exits carry
 * no number: -1 in orig_ax. rt_sigreturn sets it so (restoring the signal
 * frame "disables syscall checks"), and so do a seccomp filter or a ptracer
 * that skipped the call. Those are counted in the last slot, NR_NONE, shown
 * as BCC spells it, "[unknown: -1]"; any other number out of range (none is
 * known) in `bad_nr`, reported as lost. */
#define MAX_SYSCALLS 1024
#define NR_NONE (MAX_SYSCALLS - 1)
#define TASK_COMM_LEN 16

/* ---- Load-time config (const volatile: constants to the verifier, which
 * drops the branches of the modes not chosen) ---- */
const volatile __u32 filter_tgid = 0;   /* -p: only this process */
const volatile __u32 filter_tid = 0;    /* -t: only this thread */
const volatile bool filter_failed = false; /* -x: only calls that failed */
const volatile __s32 filter_errno = 0;  /* -e: only calls failing with this errno */
const volatile bool filter_nr_on = false;  /* --syscall: only this syscall */
const volatile __u32 filter_nr = 0;
const volatile bool targ_latency = false;  /* -L: time the calls */
const volatile bool targ_per_process = false; /* -P: totals per process */

/* One syscall's (or one process's) totals over an interval. */
struct totals {
	__u64 count;
	__u64 total_ns;  /* with -L */
};
EBPF_EXPORT(totals);

/* -P: a process's totals, and its name when first seen. */
struct proc_totals {
	__u64 count;
	__u64 total_ns;
	char comm[TASK_COMM_LEN];
};
EBPF_EXPORT(proc_totals);

/* Calls counted nowhere: a number out of range, a full -P map. */
__u64 bad_nr = 0;
__u64 procs_full = 0;

/* ---- Maps ---- */

/* Per-syscall totals, indexed by number; per-CPU, never cleared. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MAX_SYSCALLS);
	__type(key, __u32);
	__type(value, struct totals);
} syscalls SEC(".maps");

/* -P: per-process totals (key: tgid), in one of two maps user space swaps. */
struct proc_map {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct proc_totals);
} procs_a SEC(".maps"), procs_b SEC(".maps");

EBPF_CURRENT_MAP(current_procs, proc_map);

/* -L: when the current system call began, kept in the task (thread) itself:
 * no hash to fill up, and the kernel frees it when the thread exits. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} start SEC(".maps");

/* ---- Helpers ---- */

/* The -p / -t filters: one 64-bit read of the ids, two constant tests. */
static __always_inline bool wanted(void)
{
	__u64 id = bpf_get_current_pid_tgid();

	if (filter_tgid && (id >> 32) != filter_tgid)
		return false;
	if (filter_tid && (__u32)id != filter_tid)
		return false;
	if (!ebpf_container_allowed())
		return false;
	return true;
}

/* Adds one call to its process's totals (-P). */
static __always_inline void count_process(__u64 ns)
{
	__u32 tgid = ebpf_current_tgid();
	struct proc_totals *p, init = {};
	void *procs;

	procs = ebpf_current_map(&current_procs);
	if (!procs)
		return;
	p = bpf_map_lookup_elem(procs, &tgid);
	if (!p) {
		/* First call of this process in this interval on this CPU: the
		 * name is read here only, not on every call. */
		init.count = 1;
		init.total_ns = ns;
		bpf_get_current_comm(init.comm, sizeof(init.comm));
		/* BPF_ANY, not BPF_NOEXIST: if another CPU created the element
		 * since our lookup, an update from a program writes only this
		 * CPU's slot (zero until now), so nothing of theirs is lost. */
		if (bpf_map_update_elem(procs, &tgid, &init, BPF_ANY))
			__sync_fetch_and_add(&procs_full, 1);
		return;
	}
	p->count++;
	p->total_ns += ns;
}

/* ---- Entry points ---- */

/* sys_enter(struct pt_regs *regs, long id): loaded only with -L. */
SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter, struct pt_regs *regs, long id)
{
	__u64 *ts;

	if (!wanted())
		return 0;
	if (filter_nr_on && id != filter_nr)
		return 0;
	ts = bpf_task_storage_get(&start, bpf_get_current_task_btf(), 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (ts)
		*ts = bpf_ktime_get_ns();
	return 0;
}

/* sys_exit(struct pt_regs *regs, long ret): every call ends here. */
SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit, struct pt_regs *regs, long ret)
{
	/* The tracepoint passes the return value but not the number: on x86
	 * the entry code saved it in orig_ax (ax itself now holds ret). A
	 * typed pointer, so this is a plain load. */
	__u64 nr = regs->orig_ax;
	struct totals *t;
	__u64 ns = 0, *ts;

	if (!wanted())
		return 0;
	if (filter_nr_on && nr != filter_nr)
		return 0;
	if (filter_failed && ret >= 0)
		return 0;
	if (filter_errno && ret != -filter_errno)
		return 0;
	if (targ_latency) {
		/* No start time: the call began before we attached (or it is
		 * a thread's first call since then): not timed, not counted,
		 * so that COUNT and TIME describe the same calls. */
		ts = bpf_task_storage_get(&start, bpf_get_current_task_btf(), 0, 0);
		if (!ts || !*ts)
			return 0;
		ns = bpf_ktime_get_ns() - *ts;
		*ts = 0;
	}
	if (targ_per_process) {
		count_process(ns);
		return 0;
	}
	if (nr == (__u64)-1) {
		nr = NR_NONE;
	} else if (nr >= NR_NONE) {
		__sync_fetch_and_add(&bad_nr, 1);
		return 0;
	}
	__u32 key = nr;
	t = bpf_map_lookup_elem(&syscalls, &key);
	if (!t)
		return 0;
	t->count++;
	t->total_ns += ns;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
