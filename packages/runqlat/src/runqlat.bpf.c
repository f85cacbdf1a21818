// SPDX-License-Identifier: GPL-2.0
//
// runqlat: run-queue (scheduler) latency as a log2 histogram, built in the
// kernel.
//
// Run-queue latency is the time a runnable task waits for a CPU: from the
// moment it is put on a run queue until the scheduler switches to it. A task
// enters the queue in one of three ways, and each has a hook:
//
//   sched_wakeup      it was sleeping and was woken (try_to_wake_up)
//   sched_wakeup_new  it was just created (wake_up_new_task, after fork)
//   sched_switch      it was running and was switched out *without* leaving
//                     the queue: preempted (its time slice ran out, or a more
//                     urgent task woke up), or it yielded. Its wait starts
//                     again right there.
//
// and it leaves the queue when sched_switch switches to it (`next`). So each
// hook stores "queued at" for a task, and sched_switch, for `next`, takes
// the difference and counts it in a histogram. Nothing goes to user space per
// event: user space reads the histogram once per interval.
//
// 1. The cost. sched_switch is the hottest hook a tool can attach to: every
//    context switch on every CPU runs this program, with interrupts off and
//    the run-queue lock held. So the path is made as short as it can be:
//    - tp_btf (BTF-typed tracepoints), not raw_tp or classic tracepoints:
//      the arguments arrive as typed kernel pointers, and `next->pid` is a
//      plain load the JIT inlines, where raw_tp needs a bpf_probe_read_kernel
//      call per field (BPF_CORE_READ) and a classic tracepoint first copies
//      its whole record into a buffer. (The price is paid once, at load:
//      libbpf reads the kernel's BTF to find the tracepoint's type.)
//    - the "queued at" time lives in the task itself (a task-local storage
//      map, BPF_MAP_TYPE_TASK_STORAGE) rather than in a hash keyed by PID:
//      storing a time is a plain store into the task's slot, where a hash
//      update takes a bucket lock and swaps in a new element (a lookup costs
//      about the same either way, measured: ~85 ns here); it cannot fill
//      up; and the kernel frees it when the task exits.
//    - the default histogram is a per-CPU array: each CPU adds to its own
//      copy with plain increments (no atomic instructions, no cache line
//      shared between CPUs), and user space sums the copies.
//    - the clock is read once per switch, and only when a time is needed.
//      On this VM (kvm-clock) a bpf_ktime_get_ns() is the most expensive
//      step of all (~90 ns measured, more than the map operation); the
//      libbpf-tools version reads it twice per switch.
//
// 2. Preempted tasks (the prev-state subtlety). When sched_switch fires,
//    `prev` either left the run queue (it went to sleep: it set a sleeping
//    state and called schedule()) or stayed on it. BCC's test is "prev's
//    state is TASK_RUNNING". That misses one case: a task preempted while
//    it had already set a sleeping state, between set_current_state() and
//    schedule() (every wait loop does this). The scheduler never dequeues a
//    preempted task, whatever its state ("Preemption ignores task state",
//    as the kernel's own __trace_sched_switch_state() says), so it is
//    queued, and its wait is counted here too: `preempt || state == RUNNING`.
//    (A task that went to sleep is woken later by try_to_wake_up, which
//    fires sched_wakeup: that is where its wait starts.)
//
// 3. Reading without losses. The default histogram is never cleared: its
//    counters only grow, and user space subtracts the previous reading each
//    interval (core's CumulativeMap). With -P, -L or --pidnss the keys
//    (PIDs) come and go, so those histograms live in one of two hash maps
//    and user space swaps them each interval (core's DoubleBufferedMap, as
//    biolatency).
//
// 4. Switches no program sees. A kernel may keep some tasks out of every
//    tracer's sight: on the machines this suite is tested on, a sandbox
//    agent's threads are, and no sched_switch fires, for any tracer (tp_btf,
//    raw_tp or perf's tracepoint alike), while one of them is `prev`. The
//    task switched *to* then gets the CPU without our seeing it, and its
//    wait would go uncounted, silently (it was about one wait in 3000 here,
//    in one run of ten). But every task that got the CPU leaves it again,
//    and that switch is seen (the task is `prev` then). So the wait is
//    found there: a task that leaves the CPU while its "queued at" is still
//    set was switched in unseen (a seen switch-in clears it, and a wakeup of
//    a task on a CPU is not recorded: it is not queued by it). How long did
//    it wait? The kernel knows: with CONFIG_SCHED_INFO it adds every wait on
//    a run queue to the task's sched_info.run_delay, so each "queued at"
//    keeps run_delay beside it, and the difference is that wait.
//
// 5. Two sets of programs, one loaded. The tp_btf programs above are the
//    default. Each has a raw_tp twin (sched_wakeup_raw, ...), which user space
//    loads instead when asked (the API's rawTracepoints). Both hooks are the
//    same tracepoint and get the same arguments, the same pointers; what
//    differs is what the verifier knows about them:
//    - tp_btf: the kernel's BTF names each argument's type, so the verifier
//      knows `p` is a struct task_struct * and lets the program load its
//      fields directly (`p->pid`) and hand it to helpers that take a task
//      (bpf_task_storage_get). To attach, libbpf must find the tracepoint's
//      type in the kernel's BTF: libbpf 1.1 reads and copies all of
//      /sys/kernel/btf/vmlinux (two 5.2 MiB buffers here) at load.
//    - raw_tp: the arguments are plain 64-bit numbers to the verifier. Every
//      field is read with bpf_probe_read_kernel() (BPF_CORE_READ, whose
//      offsets libbpf relocates, CO-RE, from a small BTF: no vmlinux at
//      load), and no helper takes them as a task: the "queued at" times live
//      in a hash keyed by thread ID (start_raw) instead of task storage, and
//      an entry is deleted when its wait is counted.
//    The handlers are written once: each takes `raw`, a constant at every
//    call site, and the compiler keeps only that flavor's reads (TASK_READ).
//
// Hooks (no kprobes, no fentry on this kernel):
//   tp_btf/sched_wakeup      a sleeping task is queued      (raw_tp/sched_wakeup)
//   tp_btf/sched_wakeup_new  a new task is queued           (raw_tp/sched_wakeup_new)
//   tp_btf/sched_switch      prev may be queued again; next's wait ends (raw_tp/sched_switch)
#include "ebpf/common.h"
#include "ebpf/histogram.h"
#include "ebpf/double_buffer.h" /* `current`: the map of maps user space swaps */
#include "ebpf/container.h"   /* --cgroup, --cgroupmap, --mntnsmap (see there) */

/* What a histogram is per (the key of the keyed histograms). */
enum per {
	PER_ALL = 0,   /* one histogram */
	PER_PID = 1,   /* -P: per process (tgid) */
	PER_TID = 2,   /* -L: per thread */
	PER_PIDNS = 3, /* --pidnss: per PID namespace */
};

/* ---- Load-time config (const volatile: constants to the verifier, which
 * drops the branches of the modes not chosen) ---- */
const volatile __u32 targ_tgid = 0;     /* -p: only this process (0: all) */
const volatile bool targ_ms = false;    /* -m: buckets in milliseconds, else microseconds */
const volatile __u32 targ_per = PER_ALL; /* -P, -L, --pidnss: one histogram per what */

#define MAX_SLOTS EBPF_LOG2_SLOTS /* 64: floor(log2(u64)) is at most 63 */
#define TASK_RUNNING 0 /* the kernel's, a macro: not in its BTF */
#define TASK_COMM_LEN 16

/* ---- The histograms, decoded by user space ---- */

struct hist {
	__u64 slots[MAX_SLOTS]; /* slots[i]: waits v (in units) with floor(log2(v)) == i; 0 and 1 in slot 0 */
	__u64 count;            /* waits counted (the sum of slots) */
	__u64 total_ns;         /* their sum, in nanoseconds */
};
EBPF_EXPORT(hist);

/* -P, -L, --pidnss: a histogram and the name of the task that made its key. */
struct keyed_hist {
	struct hist h;
	char comm[TASK_COMM_LEN]; /* next->comm at the key's first wait in the interval */
};
EBPF_EXPORT(keyed_hist);

/* ---- Maps ---- */

/* When a task was queued. */
struct queued {
	__u64 ts;        /* bpf_ktime_get_ns(); 0: not queued, or already counted */
	__u64 run_delay; /* the task's sched_info.run_delay then (see 4. above) */
};

/* Task -> struct queued. Task-local storage: the value hangs off the
 * task_struct. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* required for local storage */
	__type(key, int);
	__type(value, struct queued);
} start SEC(".maps");

/* The one histogram (no -P/-L/--pidnss): a copy per CPU, only ever added to. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hist);
} hist_all SEC(".maps");

/* Keyed histograms: two identical hashes, and `current` says which one the
 * program writes (see 3. above). Atomic adds here: several CPUs may count
 * waits of the same process at once. */
struct hist_map {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240); /* keys per interval; user space may change it */
	__type(key, __u32);
	__type(value, struct keyed_hist);
} hist_a SEC(".maps"), hist_b SEC(".maps");

EBPF_CURRENT_MAP(current, hist_map);

/* The raw_tp programs' "queued at": thread ID -> struct queued (see 5.
 * above). User space sizes it to 1 when the tp_btf programs run. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240); /* tasks queued at once */
	__type(key, __u32);
	__type(value, struct queued);
} start_raw SEC(".maps");

/* A new key's first value (.bss: 544 bytes do not fit the 512-byte stack). */
struct keyed_hist zero_hist = {};

/* Waits not counted (user space reports their sum as lost()): no task
 * storage could be had for a task (out of memory, or the storage busy on
 * this CPU in another BPF program), or the keyed map was full. */
__u64 storage_failed = 0;
__u64 hists_full = 0;

/* ---- Helpers ---- */

/* A field of `t` (a task, or a struct it points to): a direct load from a
 * tp_btf program's typed pointer, a CO-RE probe read from a raw_tp
 * program's (see 5. above). `raw` is a constant at each call, so only one
 * of the two is compiled. */
#define TASK_READ(raw, t, field) ((raw) ? BPF_CORE_READ(t, field) : (t)->field)

/* The task's state: `__state` since 5.14, `state` before. The ___old flavor
 * lets bpf_core_field_exists() ask the running kernel which it has. */
struct task_struct___old {
	long state;
} __attribute__((preserve_access_index));

static __always_inline unsigned int task_state(struct task_struct *t, bool raw)
{
	if (bpf_core_field_exists(t->__state))
		return TASK_READ(raw, t, __state);
	return TASK_READ(raw, (struct task_struct___old *)t, state);
}

/* Is this a task we count? Not the idle task (PID 0, one per CPU: it is
 * never queued), and with -p only the process asked for. */
static __always_inline bool wanted(struct task_struct *t, bool raw)
{
	if (TASK_READ(raw, t, pid) == 0)
		return false;
	if (targ_tgid && TASK_READ(raw, t, tgid) != targ_tgid)
		return false;
	/* `t` is not always the current task (sched_wakeup runs in the waker):
	 * its own cgroup and mount namespace, read through its task_struct. */
	return ebpf_task_container_allowed(t);
}

/* The kernel's sum of `t`'s waits on run queues, in ns (0 without
 * CONFIG_SCHED_INFO, whose field it is: such a wait then counts as 0). */
static __always_inline __u64 run_delay(struct task_struct *t, bool raw)
{
	if (bpf_core_field_exists(t->sched_info))
		return TASK_READ(raw, t, sched_info.run_delay);
	return 0;
}

/* `t`'s "queued at" (NULL: none), made if `create` and there is none. */
static __always_inline struct queued *queued_of(struct task_struct *t, bool create, bool raw)
{
	struct queued none = {};
	struct queued *q;
	__u32 tid;

	if (!raw)
		return bpf_task_storage_get(&start, t, 0, create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
	tid = BPF_CORE_READ(t, pid);
	q = bpf_map_lookup_elem(&start_raw, &tid);
	if (q || !create)
		return q;
	bpf_map_update_elem(&start_raw, &tid, &none, BPF_NOEXIST); /* fails when full: NULL below */
	return bpf_map_lookup_elem(&start_raw, &tid);
}

/* `t` is no longer queued (its wait was counted): a zero time in task
 * storage, or no entry in the hash, which must not fill up with them. */
static __always_inline void dequeue(struct queued *q, struct task_struct *t, bool raw)
{
	__u32 tid;

	if (!raw) {
		q->ts = 0;
		return;
	}
	tid = BPF_CORE_READ(t, pid);
	bpf_map_delete_elem(&start_raw, &tid);
}

/* Records in `q` (NULL: none could be had) that `t` was queued at `now`. */
static __always_inline void set_queued(struct queued *q, struct task_struct *t, __u64 now, bool raw)
{
	if (!q) {
		__sync_fetch_and_add(&storage_failed, 1);
		return;
	}
	q->ts = now;
	q->run_delay = run_delay(t, raw);
}

/* Records that `t` was queued at `now`. */
static __always_inline void enqueue(struct task_struct *t, __u64 now, bool raw)
{
	set_queued(queued_of(t, true, raw), t, now, raw);
}

/* The PID namespace a task lives in, as its inode number (what
 * /proc/PID/ns/pid links to): task_active_pid_ns() is
 * thread_pid->numbers[thread_pid->level].ns. The index varies, so that
 * step is a probe read (the verifier allows typed loads at constant offsets
 * only). Only --pidnss runs this. */
static __always_inline __u32 pidns_of(struct task_struct *t, bool raw)
{
	struct pid *pid = TASK_READ(raw, t, thread_pid);
	struct upid upid;
	unsigned int level;

	if (!pid)
		return 0;
	level = TASK_READ(raw, pid, level);
	if (bpf_core_read(&upid, sizeof(upid), &pid->numbers[level & 31]))
		return 0;
	return BPF_CORE_READ(upid.ns, ns.inum);
}

/* Counts one wait of `t` into its keyed histogram (-P, -L, --pidnss). */
static __always_inline void count_keyed(struct task_struct *t, __u32 slot, __u64 delta_ns, bool raw)
{
	__u32 key;
	struct keyed_hist *kh;
	void *hists;

	key = targ_per == PER_PID ? TASK_READ(raw, t, tgid) : targ_per == PER_TID ? TASK_READ(raw, t, pid) : pidns_of(t, raw);
	hists = ebpf_current_map(&current);
	if (!hists)
		return; /* user space has not set `current` yet */
	kh = bpf_map_lookup_elem(hists, &key);
	if (!kh) {
		/* NOEXIST: if another CPU created the key meanwhile, keep its counts. */
		bpf_map_update_elem(hists, &key, &zero_hist, BPF_NOEXIST);
		kh = bpf_map_lookup_elem(hists, &key);
		if (!kh) {
			__sync_fetch_and_add(&hists_full, 1);
			return;
		}
		bpf_probe_read_kernel_str(kh->comm, sizeof(kh->comm), t->comm);
	}
	__sync_fetch_and_add(&kh->h.slots[slot], 1);
	__sync_fetch_and_add(&kh->h.count, 1);
	__sync_fetch_and_add(&kh->h.total_ns, delta_ns);
}

/* Counts one wait of `t`, `delta_ns` long. */
static __always_inline void count(struct task_struct *t, __u64 delta_ns, bool raw)
{
	/* As BCC does: the wait is truncated to whole units, then bucketed. */
	__u32 slot = ebpf_log2_slot(delta_ns / (targ_ms ? 1000000 : 1000));
	__u32 zero = 0;
	struct hist *h;

	if (targ_per != PER_ALL) {
		count_keyed(t, slot, delta_ns, raw);
		return;
	}
	h = bpf_map_lookup_elem(&hist_all, &zero);
	if (!h)
		return;
	/* This CPU's copy, and sched_switch never runs twice at once on one
	 * CPU (interrupts are off, and the kernel does not nest a BPF program
	 * in itself): plain adds are safe. */
	h->slots[slot]++;
	h->count++;
	h->total_ns += delta_ns;
}

/* ---- The handlers, one per hook, for both flavors (see 5. above) ---- */

/* A sleeping task was woken and put on a run queue. Or not queued at all:
 * a task woken between setting a sleeping state and leaving its CPU just
 * keeps running (on_cpu), and if it leaves the CPU after all, sched_switch
 * sees it leave in state TASK_RUNNING: its wait starts there. Recording
 * nothing here keeps "queued at" clear while a task runs (see 4. above). */
static __always_inline void on_wakeup(struct task_struct *p, bool raw)
{
	if (wanted(p, raw) && !TASK_READ(raw, p, on_cpu))
		enqueue(p, bpf_ktime_get_ns(), raw);
}

/* A new task (after fork or clone) was put on a run queue for the first time. */
static __always_inline void on_wakeup_new(struct task_struct *p, bool raw)
{
	if (wanted(p, raw))
		enqueue(p, bpf_ktime_get_ns(), raw);
}

/* The CPU switches from prev to next. (Since 5.18 the tracepoint also passes
 * prev's state as a fourth argument; reading prev's state here works on
 * older kernels too, and the value is the same.) */
static __always_inline void on_switch(bool preempt, struct task_struct *prev, struct task_struct *next, bool raw)
{
	__u64 now = 0, delta;
	struct queued *q;

	if (wanted(prev, raw)) {
		/* prev stays queued (see 2. above): its wait starts now. */
		bool requeued = preempt || task_state(prev, raw) == TASK_RUNNING;

		/* Its slot; created only if a time is to be stored in it. */
		q = queued_of(prev, requeued, raw);
		/* Still queued as it leaves the CPU: it got the CPU unseen (see
		 * 4. above). Its wait is what the kernel added to run_delay. */
		if (q && q->ts) {
			count(prev, run_delay(prev, raw) - q->run_delay, raw);
			if (!requeued)
				dequeue(q, prev, raw);
		}
		if (requeued) {
			now = bpf_ktime_get_ns();
			set_queued(q, prev, now, raw);
		}
	}

	/* next leaves the queue: its wait ends. A plain lookup, which never
	 * fails for want of memory: no slot means the task was not queued since
	 * we attached (or its slot could not be made then, which enqueue()
	 * counted). Creating one here would only make another way to fail. */
	if (!wanted(next, raw))
		return;
	q = queued_of(next, false, raw);
	if (!q || !q->ts)
		return; /* queued before we attached: its start is unknown */
	if (!now)
		now = bpf_ktime_get_ns();
	delta = now - q->ts;
	dequeue(q, next, raw);
	if ((__s64)delta < 0)
		delta = 0; /* clocks of two CPUs a hair apart: still a wait, counted */
	count(next, delta, raw);
}

/* ---- Entry points: tp_btf (typed pointers, the default) ---- */

SEC("tp_btf/sched_wakeup")
int BPF_PROG(sched_wakeup, struct task_struct *p)
{
	on_wakeup(p, false);
	return 0;
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(sched_wakeup_new, struct task_struct *p)
{
	on_wakeup_new(p, false);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	on_switch(preempt, prev, next, false);
	return 0;
}

/* ---- Entry points: raw_tp (the same arguments, untyped: no kernel BTF
 * read at load; see 5. above) ---- */

SEC("raw_tp/sched_wakeup")
int BPF_PROG(sched_wakeup_raw, struct task_struct *p)
{
	on_wakeup(p, true);
	return 0;
}

SEC("raw_tp/sched_wakeup_new")
int BPF_PROG(sched_wakeup_new_raw, struct task_struct *p)
{
	on_wakeup_new(p, true);
	return 0;
}

SEC("raw_tp/sched_switch")
int BPF_PROG(sched_switch_raw, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	on_switch(preempt, prev, next, true);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
