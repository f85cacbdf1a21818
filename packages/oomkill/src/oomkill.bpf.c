// SPDX-License-Identifier: GPL-2.0
//
// oomkill: report every process the kernel's out-of-memory (OOM) killer
// kills: who was running when memory ran out (the trigger), who was killed
// (the victim), and how much memory the victim held.
//
// A lesson in where the OOM killer can be watched from, without kprobes.
//
// When an allocation cannot be satisfied (all of RAM, or a memory cgroup's
// limit), the allocating task itself runs the OOM killer: out_of_memory()
// (for a cgroup: mem_cgroup_out_of_memory(), from the charge that failed)
// picks the task with the largest "badness" (its resident, swapped and page
// table pages, adjusted by oom_score_adj) and __oom_kill_process() sends it
// SIGKILL, then calls mark_oom_victim(victim), which fires the tracepoint
// oom:mark_victim. So at this tracepoint:
//   - the *current* task is the one whose allocation failed (the trigger;
//     for a SysRq-f kill a kworker, for a cgroup v2 memory.max write the
//     writer), and
//   - the tracepoint's first argument is the victim's task_struct.
// BCC's oomkill reads the same two from a kprobe on oom_kill_process(); this
// kernel has no kprobes, and the tracepoint is a stable interface besides.
//
// What the tracepoint cannot give: BCC also prints the OOM control's
// `totalpages`, the size of the memory the kill was computed against (RAM +
// swap, or the cgroup's limit). That lives in struct oom_control, which no
// tracepoint passes. We report instead what the kernel itself logs in its
// "Killed process" line: the victim's memory (total_vm, anon/file/shmem RSS,
// swap entries, page tables), read from its mm_struct here.
//
// The victim's memory is stable while we read it: the kernel calls
// mark_oom_victim() between find_lock_task_mm() and task_unlock(), holding
// the victim's task lock, and a dying task takes that lock in exit_mm()
// before it lets go of its memory. The SIGKILL is already sent, but the
// victim cannot have unmapped anything yet.
//
// Hook (a raw tracepoint: no kprobes, no fentry on this kernel):
//   raw_tp/mark_victim   the OOM killer marks its victim (oom:mark_victim)
//
// Why raw_tp and not the classic tracepoint/oom/mark_victim: the classic
// form hands us the trace record the kernel formats (victim pid, comm, the
// memory in kB), but its `pid` is the victim's *thread* id and its comm the
// thread's name. The raw form hands us the task_struct itself, so we can
// report the process (tgid) and its name, as BCC does, and read the same
// memory counters the record is built from. (SEC("tp_btf/mark_victim") would
// hand over the same arguments as typed pointers the verifier lets us
// dereference directly; raw_tp reads through BPF_CORE_READ instead and also
// loads on kernels whose BTF lacks the tracepoint's prototype.)
//
// Why this tracepoint and no other: of the oom: events, mark_victim is the
// one that fires once per kill, in the context of the task that ran the
// killer. wake_reaper, start/finish/skip_task_reaping carry only a pid and
// run in the OOM reaper's thread; oom_score_adj_update, reclaim_retry_zone
// and compact_retry are not kills.
#include "ebpf/common.h"
#include "ebpf/output.h"
#include "ebpf/container.h"   /* --cgroup, --cgroupmap, --mntnsmap (see there) */

/* No load-time knobs: BCC's oomkill has no options, and OOM kills are rare
 * enough that filtering them in the kernel would save nothing. */

/* What user space receives, one per OOM victim. Memory is in pages (the
 * kernel's own unit for these counters), page tables in bytes. */
struct event {
	__u64 ts;             /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u64 total_vm;       /* pages mapped (VmSize) */
	__u64 anon_rss;       /* resident anonymous pages (RssAnon) */
	__u64 file_rss;       /* resident file-backed pages (RssFile) */
	__u64 shmem_rss;      /* resident shared-memory pages (RssShmem) */
	__u64 swap_ents;      /* pages swapped out (VmSwap) */
	__u64 pgtables;       /* bytes of page tables (VmPTE) */
	__u32 trigger_pid;    /* current task's process id: whose allocation failed */
	__u32 pid;            /* the victim's process id (tgid) */
	__u32 tid;            /* the victim's thread the kernel marked (one with an mm) */
	__u32 uid;            /* the victim's real uid (the tracepoint's second argument) */
	__s16 oom_score_adj;  /* the victim's oom_score_adj (-1000..1000) */
	char trigger_comm[16];/* current task's name (the thread's, as BCC) */
	char comm[16];        /* the victim's process name (its main thread's) */
};
EBPF_EXPORT(event);

/* ---- Maps ---- */

/* OOM kills are rare (a handful a second even in a cgroup that thrashes),
 * so a small ring holds every one: a record is 112 bytes + 8 of header. */
EBPF_RINGBUF(events, 16 * 1024);

/* ---- Helpers ---- */

/* Before Linux 6.2 an mm's RSS counters were plain atomics in one struct
 * (struct mm_rss_stat); since then each is a per-CPU counter. Stable kernels
 * as old as 6.1 carry this tracepoint's task argument (see mark_victim
 * below), so both layouts can meet us. A "___old" suffix is a CO-RE flavor:
 * libbpf matches the type by the name before it, and a field relocation
 * against it says whether this kernel's mm_struct looks like that. */
struct mm_rss_stat___old {
	atomic_long_t count[4];
};
struct mm_struct___old {
	struct mm_rss_stat___old rss_stat;
};

/* get_mm_counter() as the kernel computes it for its "Killed process" line
 * and the tracepoint's record: the per-CPU counter's shared total (the CPUs'
 * small unflushed deltas left out), never below zero. */
static __always_inline __u64 mm_counter(struct mm_struct *mm, int member)
{
	long v;

	if (bpf_core_field_exists(((struct mm_struct___old *)0)->rss_stat.count)) {
		struct mm_struct___old *old = (void *)mm;

		v = BPF_CORE_READ(old, rss_stat.count[member].counter);
	} else {
		v = BPF_CORE_READ(mm, rss_stat[member].count);
	}
	return v > 0 ? v : 0;
}

/* ---- Entry point ---- */

/* raw_tp programs get the tracepoint's C arguments: here
 * (struct task_struct *victim, uid_t uid). BPF_PROG names them. */
SEC("raw_tp/mark_victim")
int BPF_PROG(mark_victim, struct task_struct *victim, uid_t uid)
{
	struct mm_struct *mm;
	struct event *e;

	/* Until 2024 (commit 72ba14deb40a, Linux 6.9, backported to stable
	 * kernels) this tracepoint passed only the victim's pid, an int: reading
	 * it as a task pointer would read garbage. The record's `uid` field came
	 * with the task argument, so its presence tells the two apart. User
	 * space refuses such kernels before loading us; this check keeps the
	 * program safe regardless, and CO-RE resolves it at load time. */
	if (!bpf_core_field_exists(((struct trace_event_raw_mark_victim *)0)->uid))
		return 0;
	/* The victim's container (the current task is whoever ran out of memory). */
	if (!ebpf_task_container_allowed(victim))
		return 0;

	e = ebpf_reserve(events, sizeof(*e));
	if (!e)
		return 0; /* ring full: counted in events_drops */

	e->ts = bpf_ktime_get_ns();
	e->trigger_pid = ebpf_current_tgid();
	bpf_get_current_comm(e->trigger_comm, sizeof(e->trigger_comm));

	/* The victim as a process: the kernel chose a process (it walks thread
	 * groups), then marked one of its threads that still has an mm. */
	e->pid = BPF_CORE_READ(victim, tgid);
	e->tid = BPF_CORE_READ(victim, pid);
	e->uid = uid;
	e->oom_score_adj = BPF_CORE_READ(victim, signal, oom_score_adj);
	BPF_CORE_READ_STR_INTO(&e->comm, victim, group_leader, comm);

	/* The kernel guarantees victim->mm is set here (mark_oom_victim()'s
	 * contract); a NULL would only zero the counters below. */
	mm = BPF_CORE_READ(victim, mm);
	e->total_vm = BPF_CORE_READ(mm, total_vm);
	e->anon_rss = mm_counter(mm, MM_ANONPAGES);
	e->file_rss = mm_counter(mm, MM_FILEPAGES);
	e->shmem_rss = mm_counter(mm, MM_SHMEMPAGES);
	e->swap_ents = mm_counter(mm, MM_SWAPENTS);
	/* Page-table bytes are counted only on MMU kernels (all we run on). */
	e->pgtables = bpf_core_field_exists(mm->pgtables_bytes) ? BPF_CORE_READ(mm, pgtables_bytes.counter) : 0;

	ebpf_submit(events, e);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
