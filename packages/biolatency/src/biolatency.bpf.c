// SPDX-License-Identifier: GPL-2.0
//
// biolatency: block I/O latency as a log2 histogram, built in the kernel.
//
// A lesson in three things: timing an object across hooks, keeping a
// histogram in a map that user space can read and clear without losing a
// count, and decoding kernel enums for the kernel that is running rather than
// the one the program was compiled on.
//
// 1. Timing a request. The block layer hands every hook the same
//    `struct request *`, so its address is the key of a `start` hash: one hook
//    stores a timestamp under it, block_rq_complete looks it up, takes the
//    difference and deletes the entry. Nothing goes to user space per I/O:
//    the completion adds one to a histogram bucket in a map, and user space
//    reads the map once per interval. (A request is a pooled object: once
//    completed, its address comes back for a later I/O; the start hook simply
//    overwrites the entry.)
//
// 2. Where to start the clock (reference notes, item 28):
//    - default: block_rq_issue, when the driver is handed the request. What
//      BCC measured with a kprobe on blk_mq_start_request.
//    - -Q (include OS queued time): block_io_start (Linux 6.5+). It fires in
//      blk_account_io_start() when the request is made from a bio, before any
//      scheduler queueing: exactly BCC's kprobe point for -Q. libbpf-tools use
//      block_rq_insert instead, which misses requests issued directly (no
//      insert) and so needs a "has the queue an elevator?" guess. On kernels
//      without block_io_start, this program falls back to block_rq_insert
//      (user space picks which of the two to load).
//      In -Q mode block_rq_issue keeps the start block_io_start took, and
//      only starts the clock itself for requests without one: the flushes
//      the kernel makes itself never pass through block_io_start.
//    - the end: block_rq_complete, not block_io_done. block_io_done fires in
//      the kernel's I/O accounting, which is skipped for a request when the
//      queue has neither iostats nor a scheduler: the tool would go blind on a
//      tuned NVMe disk. block_rq_complete fires for every request, including
//      batched completions. It also fires for a partial completion (a driver
//      finishing a request piece by piece); those are recognised by
//      nr_bytes < the bytes the request still has, and the clock stops only
//      at the last piece, as BCC's blk_account_io_done did.
//    - block_rq_merge: a request merged into another is freed without
//      completing; its entry (only -Q and -c have one by then) is deleted.
//    - block_rq_requeue: the driver gave a request back, to be issued again.
//      By default its clock restarts at the new issue; -Q keeps counting.
//    Each entry also keeps the request's first sector. The kernel does not
//    always run the programs of a hook (measured here under load: see the
//    README), so an entry can outlive its I/O; the sector tells such a stale
//    entry from the I/O now using the same request struct, and it is dropped
//    (and counted) instead of producing a latency of minutes.
//
// 3. Reading and clearing without losses. BCC reads the histogram, then
//    clears it: completions between the two are lost. Here the histogram
//    lives in one of two identical hash maps, and a one-slot
//    BPF_MAP_TYPE_ARRAY_OF_MAPS (`current`) says which. Each interval user
//    space points `current` at the other, empty map. The kernel makes that
//    update wait until every BPF program already running has returned
//    (synchronize_rcu in the bpf() system call), so afterwards nobody can
//    still be writing the old map: user space reads and empties it at
//    leisure, and the next interval is counted in the other one.
//
// 4. Flags for the running kernel (reference notes, item 25). A request's
//    cmd_flags hold an operation (REQ_OP_*, the low REQ_OP_BITS bits) and
//    flag bits (1 << __REQ_*). Both reference tools decode them with tables
//    fixed at compile time, and the kernel renumbered the operations in 6.0
//    (REQ_OP_ZONE_APPEND became 7, where REQ_OP_WRITE_SAME was), so their -F
//    prints zone operations under wrong names. Here the numbers come from the
//    running kernel: bpf_core_enum_value(enum req_op, REQ_OP_WRITE) is a CO-RE
//    relocation that libbpf resolves at load time against the kernel's own
//    BTF, and bpf_core_enum_value_exists() says whether this kernel has that
//    operation at all. The program turns cmd_flags into a project-defined,
//    kernel-independent code (BIO_OP_* | BIO_FL_*), which user space names.
//    That translation, and finding a request's disk (rq->rq_disk before
//    5.17, rq->q->disk since), are in the shared header ebpf/block.h
//    (bpf/include/), which biosnoop uses too: ebpf_rq_flags(), ebpf_rq_dev().
//
// Hooks (raw tracepoints: no kprobes, no fentry on this kernel):
//   raw_tp/block_io_start     -Q (and the cgroup filter): start the clock
//   raw_tp/block_rq_insert    -Q on kernels before 6.5: start the clock
//   raw_tp/block_rq_issue     start the clock (default)
//   raw_tp/block_rq_requeue   a request to be issued again
//   raw_tp/block_rq_merge     forget a request merged into another (-Q, -c)
//   raw_tp/block_rq_complete  stop the clock, count into the histogram
//
// Why raw_tp and not tp_btf: both hand the program the tracepoint's C
// arguments. tp_btf lets it dereference `rq->q->disk` directly (the verifier
// knows the types), but makes libbpf load the whole kernel BTF (megabytes)
// just to find the attach point (measured: 64 MB peak RSS instead of 53).
// raw_tp reads fields with BPF_CORE_READ (bpf_probe_read_kernel at CO-RE
// relocated offsets), a few nanoseconds per I/O, and starts lighter.
#include "ebpf/common.h"
#include "ebpf/block.h" /* ebpf_rq_dev(), ebpf_rq_flags(): shared with biosnoop */
#include "ebpf/histogram.h" /* ebpf_log2_slot(): the bucket, bounded for every verifier */
#include "ebpf/double_buffer.h" /* `current`: the map of maps user space swaps */
#include "ebpf/container.h"   /* -c/--cgroup, --cgroupmap, --mntnsmap: ebpf_container_allowed() */

/* ---- Load-time config (const volatile: constants to the verifier) ---- */
const volatile bool targ_queued = false;    /* -Q: clock starts at block_io_start / insert */
const volatile bool targ_ms = false;        /* -m: buckets in milliseconds, else microseconds */
const volatile bool targ_per_disk = false;  /* -D: one histogram per disk */
const volatile bool targ_per_flags = false; /* -F: one histogram per operation and flags */
const volatile bool filter_dev = false;     /* -d DISK */
const volatile __u32 targ_dev = 0;          /* the disk, as the kernel's dev_t: major << 20 | minor */
const volatile bool filter_cgroup = false;  /* a container filter (-c, --cgroupmap, --mntnsmap) is on:
                                              * only I/O submitted by its tasks (ebpf/container.h) */

#define MAX_SLOTS 64 /* floor(log2(u64)) is at most 63: no value is clamped */
#define E2BIG 7      /* errno values are macros, not in the kernel's BTF */
#define ENOMEM 12

/* ---- The histogram: key and value, decoded by user space ---- */

struct hist_key {
	__u32 dev;   /* -D: the disk's dev_t (major << 20 | minor), else 0 */
	__u32 flags; /* -F: BIO_OP_* | BIO_FL_* (ebpf_rq_flags() in ebpf/block.h), else 0 */
};
EBPF_EXPORT(hist_key);

struct hist {
	__u64 slots[MAX_SLOTS]; /* slots[i]: latencies v (in units) with floor(log2(v)) == i; 0 and 1 in slot 0 */
	__u64 total_ns;         /* sum of the latencies, in nanoseconds (for -e) */
	__u64 count;            /* number of I/Os (the sum of slots) */
};
EBPF_EXPORT(hist);

/* ---- Maps ---- */

/* What is known about an in-flight request. */
struct start {
	__u64 ts;     /* bpf_ktime_get_ns() when its clock started (0: not yet, see -c) */
	__u64 sector; /* rq->__sector, to recognise a stale entry (see block_rq_complete) */
	__u32 issued; /* block_rq_issue has seen it */
	__u32 pad;
};

/* Request address -> its start. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240); /* requests in flight at once; user space may raise it */
	__type(key, struct request *);
	__type(value, struct start);
} start SEC(".maps");

/* I/Os not counted, by reason (user space reports their sum as lost()):
 * the start map was full, or an entry turned out stale (the kernel did not
 * run a hook for this request: see the README's "Missed hooks"). */
__u64 starts_full = 0;
__u64 starts_stale = 0;

/* The two histogram maps (see 3. above). Not preallocated: a key is created
 * once per disk or flag set, and most of the 1024 are never used. */
struct hist_map {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct hist_key);
	__type(value, struct hist);
} hist_a SEC(".maps"), hist_b SEC(".maps");

/* Slot 0 holds the histogram map completions count into now; user space
 * fills it after load and swaps it every interval. */
EBPF_CURRENT_MAP(current, hist_map);

/* A zeroed `struct hist`: the initial value of a new key. At 528 bytes it
 * does not fit the 512-byte BPF stack, so it lives in a map of one entry. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hist);
} zero SEC(".maps");

/* ---- Helpers ---- */

static __always_inline bool dev_wanted(struct request *rq)
{
	return !filter_dev || ebpf_rq_dev(rq) == targ_dev;
}

/* Records a start for `rq`, replacing any. */
static __always_inline void set_start(struct request *rq, __u64 ts, __u32 issued)
{
	struct start st = { .ts = ts, .sector = BPF_CORE_READ(rq, __sector), .issued = issued };
	long err = bpf_map_update_elem(&start, &rq, &st, BPF_ANY);

	if (err == -E2BIG || err == -ENOMEM)
		__sync_fetch_and_add(&starts_full, 1);
}

/* Adds one latency to the histogram of `key` in the current map. */
static __always_inline void count_latency(struct hist_key *key, __u64 delta_ns)
{
	__u32 zero_idx = 0;
	struct hist *h, *init;
	void *hists;
	__u64 v;

	hists = ebpf_current_map(&current);
	if (!hists)
		return; /* user space has not set `current` yet */
	h = bpf_map_lookup_elem(hists, key);
	if (!h) {
		init = bpf_map_lookup_elem(&zero, &zero_idx);
		if (!init)
			return;
		/* NOEXIST: if another CPU created the key meanwhile, keep its counts. */
		bpf_map_update_elem(hists, key, init, BPF_NOEXIST);
		h = bpf_map_lookup_elem(hists, key);
		if (!h)
			return; /* 1024 keys in one interval: not counted */
	}
	/* As BCC does: the value is truncated to whole units, then bucketed. */
	v = delta_ns / (targ_ms ? 1000000 : 1000);
	/* Several CPUs complete I/O at once: atomic adds, no lock. */
	__sync_fetch_and_add(&h->slots[ebpf_log2_slot(v)], 1);
	__sync_fetch_and_add(&h->total_ns, delta_ns);
	__sync_fetch_and_add(&h->count, 1);
}

/* ---- Entry points, one per hook ---- */

/* Linux 6.5+: the request was just made from a bio, in the submitting task
 * (so the cgroup test sees the right task). Loaded for -Q and for -c. */
SEC("raw_tp/block_io_start")
int BPF_PROG(block_io_start, struct request *rq)
{
	if (!dev_wanted(rq))
		return 0;
	if (filter_cgroup && !ebpf_container_allowed()) {
		/* Not ours. Remove a stale entry a recycled request may carry, so
		 * block_rq_issue does not time this I/O. */
		bpf_map_delete_elem(&start, &rq);
		return 0;
	}
	/* Without -Q (so for the cgroup filter) the clock starts at issue: the
	 * entry only says "wanted", and block_rq_issue fills in the time. */
	set_start(rq, targ_queued ? bpf_ktime_get_ns() : 0, 0);
	return 0;
}

/* -Q on kernels without block_io_start: the request enters a scheduler or
 * dispatch queue. Requests issued directly skip it; block_rq_issue starts
 * theirs. */
SEC("raw_tp/block_rq_insert")
int BPF_PROG(block_rq_insert, struct request *rq)
{
	if (dev_wanted(rq))
		set_start(rq, bpf_ktime_get_ns(), 0);
	return 0;
}

/* The driver gets the request: the default start. */
SEC("raw_tp/block_rq_issue")
int BPF_PROG(block_rq_issue, struct request *rq)
{
	struct start *st;

	if (!dev_wanted(rq))
		return 0;
	st = bpf_map_lookup_elem(&start, &rq);
	if (targ_queued || filter_cgroup) {
		if (st && !st->issued) {
			/* Started at block_io_start/insert (or requeued): -Q keeps that
			 * time; the cgroup filter times from now. A front merge may have
			 * moved the first sector since, so take it again. */
			if (!targ_queued)
				st->ts = bpf_ktime_get_ns();
			st->sector = BPF_CORE_READ(rq, __sector);
			st->issued = 1;
			return 0;
		}
		if (st) /* issued before and never completed: its completion was missed */
			__sync_fetch_and_add(&starts_stale, 1);
		if (filter_cgroup) {
			/* No block_io_start in the cgroup for this I/O: not ours. */
			if (st)
				bpf_map_delete_elem(&start, &rq);
			return 0;
		}
		/* -Q, and no start: a request the kernel made itself (the flushes of
		 * a flush sequence never pass block_io_start). Start it now. */
		set_start(rq, bpf_ktime_get_ns(), 1);
		return 0;
	}
	if (st) /* issued before and never completed: its completion was missed */
		__sync_fetch_and_add(&starts_stale, 1);
	set_start(rq, bpf_ktime_get_ns(), 1);
	return 0;
}

/* The driver could not take the request; it will be issued again. By default
 * the clock restarts then (as BCC's start hook also fires again); -Q keeps
 * counting, and the cgroup filter keeps the request as wanted. */
SEC("raw_tp/block_rq_requeue")
int BPF_PROG(block_rq_requeue, struct request *rq)
{
	struct start *st = bpf_map_lookup_elem(&start, &rq);

	if (!st)
		return 0;
	if (targ_queued || filter_cgroup)
		st->issued = 0;
	else
		bpf_map_delete_elem(&start, &rq);
	return 0;
}

/* The request was merged into another and will be freed without completing. */
SEC("raw_tp/block_rq_merge")
int BPF_PROG(block_rq_merge, struct request *rq)
{
	bpf_map_delete_elem(&start, &rq);
	return 0;
}

/* Done, or partly done (nr_bytes of it). */
SEC("raw_tp/block_rq_complete")
int BPF_PROG(block_rq_complete, struct request *rq, int error, unsigned int nr_bytes)
{
	struct hist_key key = {};
	struct start *st;
	__u64 delta;

	st = bpf_map_lookup_elem(&start, &rq);
	if (!st)
		return 0; /* started before we attached, or not wanted */
	if (nr_bytes < BPF_CORE_READ(rq, __data_len)) {
		/* A partial completion: the request goes on from the sector after
		 * these bytes, which is where the kernel moves __sector next. */
		st->sector += nr_bytes >> 9;
		return 0;
	}
	/*
	 * Is this entry really about this I/O? The kernel does not always run
	 * BPF programs for a tracepoint (see the README: under load some hook
	 * calls are skipped). If this request's issue was skipped, the entry is
	 * left from an earlier I/O that used the same request struct and whose
	 * completion was skipped: its time would make a latency of minutes. A
	 * different first sector gives it away.
	 */
	if (st->sector != BPF_CORE_READ(rq, __sector)) {
		__sync_fetch_and_add(&starts_stale, 1);
		bpf_map_delete_elem(&start, &rq);
		return 0;
	}
	/* Not issued: a flush-sequence wrapper the kernel completes itself. -Q
	 * counts it from block_io_start, as BCC's -Q did; otherwise it is not
	 * an I/O the device did. */
	if (!st->issued && !(targ_queued && !filter_cgroup)) {
		bpf_map_delete_elem(&start, &rq);
		return 0;
	}
	delta = bpf_ktime_get_ns() - st->ts;
	bpf_map_delete_elem(&start, &rq);
	if ((__s64)delta < 0)
		return 0;

	if (targ_per_disk)
		key.dev = ebpf_rq_dev(rq);
	if (targ_per_flags)
		key.flags = ebpf_rq_flags(BPF_CORE_READ(rq, cmd_flags));
	count_latency(&key, delta);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
