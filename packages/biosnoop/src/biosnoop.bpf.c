// SPDX-License-Identifier: GPL-2.0
//
// biosnoop: every block I/O, one record each, with the process that issued
// it, its disk, sector, size and latency.
//
// A lesson in following one kernel object through its life, across hooks
// that run in different contexts, and in remembering who asked for it.
//
// 1. Who issued the I/O. A block request passes through several hooks, and
//    only the first runs in the task that made it: block_io_start fires in
//    blk_account_io_start() when the request is made from a bio, in
//    submit_bio()'s caller (Linux 6.5+). Later hooks run wherever the block
//    layer happens to be: block_rq_issue often in a kworker (kblockd running
//    a queue, a plug flushed elsewhere), block_rq_complete in an interrupt on
//    whatever task was on that CPU. So the issuing task's pid and comm are
//    read at block_io_start, stored under the request's address (the block
//    layer hands every hook the same `struct request *`), and read back at
//    completion: the answer to "which process did this I/O", not "which
//    process was running when it finished". Requests that never pass
//    block_io_start (the flushes the kernel makes itself for a flush
//    sequence, requests made before the tool attached, and those whose
//    block_io_start found the table full) have no issuer: COMM "?" and PID
//    0, as in BCC.
//
// 2. The clocks. LAT is block_rq_issue (the driver gets the request) to
//    block_rq_complete, what BCC measures with a kprobe on
//    blk_mq_start_request. With -Q, QUE is block_io_start to block_rq_issue:
//    the time the request waited in the OS (plugs, the I/O scheduler).
//    BPF programs read the clock with bpf_ktime_get_ns() (CLOCK_MONOTONIC).
//
// 3. The request's life, and its corners (the same hooks as biolatency):
//    - block_rq_requeue: the driver gave the request back; it will be issued
//      again, and its LAT starts over then. Its issuer is kept.
//    - block_rq_merge: merged into another request and freed without ever
//      completing: its entry is deleted.
//    - block_rq_complete also fires for a partial completion (a driver
//      finishing a request piece by piece): nr_bytes is less than the bytes
//      the request still has. The record is sent at the last piece only, as
//      BCC's blk_account_io_done did.
//    - A request is a pooled object: once completed its address comes back
//      for a later I/O. And the kernel may skip a BPF program: it does not
//      run a raw tracepoint program on a CPU where that same program is
//      already running (an interrupt completing one request while the
//      program handles another), and counts the skip in the program's
//      recursion_misses (`bpftool prog show`). So an entry can outlive its
//      I/O. The first sector taken at issue tells such a stale entry from
//      the I/O now using the same struct: it is dropped and counted, never
//      printed with a latency of minutes.
//    - A request that completes without having been issued is the wrapper
//      of a flush sequence, which the kernel completes itself: not an I/O
//      the device did, and not printed (BCC's start map has no entry for it).
//
// 4. The disk and the operation come from the shared header ebpf/block.h:
//    rq->q->disk (rq->rq_disk before 5.17) as the kernel's dev_t, and
//    cmd_flags translated with CO-RE into codes that mean the same on every
//    kernel (the kernel renumbered its operations in 6.0), which user space
//    names: the T column.
//
// Hooks (raw tracepoints: this kernel has no kprobes and no fentry):
//   raw_tp/block_io_start     the issuer (pid, comm) and the queue clock
//   raw_tp/block_rq_insert    the same, on kernels before 6.5 (no block_io_start)
//   raw_tp/block_rq_issue     the latency clock, sector and size
//   raw_tp/block_rq_requeue   to be issued again
//   raw_tp/block_rq_merge     merged away: forget it
//   raw_tp/block_rq_complete  one record to user space
// raw_tp rather than tp_btf for the reason biolatency gives: tp_btf makes
// libbpf load the whole kernel BTF at start-up; raw_tp reads fields with
// BPF_CORE_READ, a few nanoseconds more per I/O.
#include "ebpf/common.h"
#include "ebpf/output.h"
#include "ebpf/block.h" /* ebpf_rq_dev(), ebpf_rq_flags(): shared with biolatency */
#include "ebpf/container.h"   /* --cgroup, --cgroupmap, --mntnsmap (see there) */

/* ---- Load-time config (const volatile: constants to the verifier) ---- */
const volatile bool targ_queued = false;    /* -Q: the QUE column */
const volatile bool targ_pattern = false;   /* -P: sequential or random, per disk */
const volatile bool filter_dev = false;     /* -d DISK */
const volatile __u32 targ_dev = 0;          /* the disk, as the kernel's dev_t: major << 20 | minor */
const volatile __u64 min_ns = 0;            /* -m: only I/O slower than this */
const volatile bool issuer_at_issue = false; /* no block_io_start (before 6.5): see block_rq_issue */

#define E2BIG 7 /* errno values are macros, not in the kernel's BTF */
#define ENOMEM 12

/* -P: how an I/O relates to the one completed before it on the same disk. */
enum {
	PATTERN_UNKNOWN = 0,    /* the first I/O seen on its disk */
	PATTERN_SEQUENTIAL = 1, /* starts where the previous one ended */
	PATTERN_RANDOM = 2,
};

/* ---- The record user space gets, one per I/O ---- */

struct event {
	__u64 ts;       /* completion, bpf_ktime_get_ns() */
	__u64 lat_ns;   /* block_rq_issue -> block_rq_complete */
	__u64 queue_ns; /* -Q: block_io_start -> block_rq_issue (valid when queue_known) */
	__u64 sector;   /* first sector, at issue */
	__u32 bytes;    /* size, at issue */
	__u32 pid;      /* the issuing process (0 and comm "" when unknown) */
	__u32 dev;      /* the disk: major << 20 | minor */
	__u32 flags;    /* BIO_OP_* | BIO_FL_* (ebpf_rq_flags) */
	__u8 pattern;   /* -P: PATTERN_* */
	__u8 queue_known;
	__u16 _pad0;
	__u32 _pad1;
	char comm[16];  /* the issuing task's name */
};
EBPF_EXPORT(event);

/* ---- Maps ---- */

EBPF_RINGBUF(events, 1024 * 1024); /* user space sizes it; drops are counted */

/* What is known about a request in flight. */
struct info {
	__u64 created; /* block_io_start (or insert): the start of QUE, 0 if unseen */
	__u64 issued;  /* block_rq_issue: the start of LAT, 0 until (again) issued */
	__u64 sector;  /* rq->__sector at issue */
	__u32 bytes;   /* rq->__data_len at issue */
	__u32 done;    /* bytes finished by partial completions so far */
	__u32 pid;     /* the issuer, 0 when unknown */
	__u32 dev;
	char comm[16];
};

/* Request address -> what is known about it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240); /* requests in flight at once; user space may raise it */
	__type(key, struct request *);
	__type(value, struct info);
} reqs SEC(".maps");

/* -P: each disk's last completed I/O's end (sector + size). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);   /* dev */
	__type(value, __u64); /* next sector */
} last_sector SEC(".maps");

/* I/Os not reported, by reason (user space adds them to lost()): the `reqs`
 * map was full at issue, or an entry turned out stale (a skipped hook, see
 * 3.). Each such I/O is counted once, so reported + untracked = all I/O. */
__u64 reqs_full = 0;
__u64 reqs_stale = 0;

/* ---- Helpers ---- */

static __always_inline bool dev_wanted(__u32 dev)
{
	return !filter_dev || dev == targ_dev;
}

/* Stores what is known about a request; false when the table is full. */
static __always_inline bool save(struct request *rq, struct info *in)
{
	long err = bpf_map_update_elem(&reqs, &rq, in, BPF_ANY);

	return err != -E2BIG && err != -ENOMEM;
}

/* The current task as the request's issuer, and the start of its queue time. */
static __always_inline void remember_issuer(struct request *rq)
{
	struct info in = {};

	in.dev = ebpf_rq_dev(rq);
	if (!dev_wanted(in.dev))
		return;
	if (!ebpf_container_allowed()) {
		/* Another container's I/O: forget any stale entry of a recycled
		 * request, so block_rq_issue does not report this one. */
		bpf_map_delete_elem(&reqs, &rq);
		return;
	}
	in.created = bpf_ktime_get_ns();
	in.pid = ebpf_current_tgid();
	bpf_get_current_comm(in.comm, sizeof(in.comm));
	/* A full table is not counted here: block_rq_issue tries again (an entry
	 * may have freed by then) and counts the I/O if it is lost for good. */
	save(rq, &in);
}

/* ---- Entry points, one per hook ---- */

/* Linux 6.5+: the request was just made from a bio, in the task that
 * submitted it. A recycled request's old entry is replaced; if that entry
 * was issued, its completion was skipped (see 3.): count that I/O. */
SEC("raw_tp/block_io_start")
int BPF_PROG(block_io_start, struct request *rq)
{
	struct info *old = bpf_map_lookup_elem(&reqs, &rq);

	if (old && old->issued)
		__sync_fetch_and_add(&reqs_stale, 1);
	remember_issuer(rq);
	return 0;
}

/* Kernels before 6.5 (loaded only there): the request enters a scheduler
 * or dispatch queue, usually still in the submitting task. A requeued
 * request is inserted again, maybe from a kworker: keep its first issuer. */
SEC("raw_tp/block_rq_insert")
int BPF_PROG(block_rq_insert, struct request *rq)
{
	if (!bpf_map_lookup_elem(&reqs, &rq))
		remember_issuer(rq);
	return 0;
}

/* The driver gets the request: LAT starts, and its sector and size are
 * taken (BCC's BYTES is the size at issue). */
SEC("raw_tp/block_rq_issue")
int BPF_PROG(block_rq_issue, struct request *rq)
{
	struct info *in = bpf_map_lookup_elem(&reqs, &rq);
	struct info fresh = {};

	if (in && in->issued) {
		/* Issued before and never completed: that completion was skipped,
		 * and whatever this entry says is about an earlier I/O. */
		__sync_fetch_and_add(&reqs_stale, 1);
		in = NULL;
	}
	if (!in) {
		/* No issuer seen: a request the kernel made itself, or one made
		 * before we attached. Before 6.5 a request issued directly (no
		 * scheduler, no insert) is issued by the task that made it, so
		 * there the current task is the issuer. */
		fresh.dev = ebpf_rq_dev(rq);
		if (!dev_wanted(fresh.dev))
			return 0;
		/* With a container filter, an I/O whose issuer is unknown is not
		 * known to be the container's: only the current task can say. */
		if (ebpf_container_filtering() && !(issuer_at_issue && ebpf_container_allowed()))
			return 0;
		if (issuer_at_issue) {
			fresh.pid = ebpf_current_tgid();
			bpf_get_current_comm(fresh.comm, sizeof(fresh.comm));
		}
		in = &fresh;
	}
	in->issued = bpf_ktime_get_ns();
	in->sector = BPF_CORE_READ(rq, __sector);
	in->bytes = BPF_CORE_READ(rq, __data_len);
	in->done = 0;
	if (in == &fresh && !save(rq, &fresh))
		__sync_fetch_and_add(&reqs_full, 1); /* not followed: never reported */
	return 0;
}

/* The driver could not take the request; it will be issued again. */
SEC("raw_tp/block_rq_requeue")
int BPF_PROG(block_rq_requeue, struct request *rq)
{
	struct info *in = bpf_map_lookup_elem(&reqs, &rq);

	if (in)
		in->issued = 0;
	return 0;
}

/* Merged into another request: freed without completing. */
SEC("raw_tp/block_rq_merge")
int BPF_PROG(block_rq_merge, struct request *rq)
{
	bpf_map_delete_elem(&reqs, &rq);
	return 0;
}

/* Done, or partly done (nr_bytes of it). */
SEC("raw_tp/block_rq_complete")
int BPF_PROG(block_rq_complete, struct request *rq, int error, unsigned int nr_bytes)
{
	struct info *in = bpf_map_lookup_elem(&reqs, &rq);
	struct event *e;
	__u64 now, lat, *last, next;
	__u8 pattern = PATTERN_UNKNOWN;

	if (!in)
		return 0; /* not wanted, or issued before we attached */
	if (!in->issued) {
		/* A flush-sequence wrapper, completed by the kernel itself. */
		bpf_map_delete_elem(&reqs, &rq);
		return 0;
	}
	if (nr_bytes < BPF_CORE_READ(rq, __data_len)) {
		/* A partial completion: the rest follows, from the sector after. */
		in->done += nr_bytes;
		return 0;
	}
	/* Partial completions moved __sector along; anything else means this
	 * entry is about an earlier I/O (see 3.). */
	if (BPF_CORE_READ(rq, __sector) != in->sector + (in->done >> 9)) {
		__sync_fetch_and_add(&reqs_stale, 1);
		bpf_map_delete_elem(&reqs, &rq);
		return 0;
	}
	now = bpf_ktime_get_ns();
	lat = now - in->issued;
	if ((__s64)lat < 0)
		goto out;

	if (targ_pattern) {
		/* As BCC: compared with the end of the last I/O completed on the disk. */
		last = bpf_map_lookup_elem(&last_sector, &in->dev);
		if (last)
			pattern = *last == in->sector ? PATTERN_SEQUENTIAL : PATTERN_RANDOM;
		next = in->sector + (in->bytes >> 9);
		bpf_map_update_elem(&last_sector, &in->dev, &next, BPF_ANY);
	}
	if (lat < min_ns)
		goto out;

	e = ebpf_reserve(events, sizeof(*e));
	if (!e)
		goto out; /* ring full: counted in events_drops */
	e->ts = now;
	e->lat_ns = lat;
	e->queue_known = targ_queued && in->created && in->created <= in->issued;
	e->queue_ns = e->queue_known ? in->issued - in->created : 0;
	/* A request with no position (a flush) has __sector (sector_t)-1;
	 * the kernel's own tracepoints print 0 for it, and so do we. */
	e->sector = in->sector == (__u64)-1 ? 0 : in->sector;
	e->bytes = in->bytes;
	e->pid = in->pid;
	e->dev = in->dev;
	e->flags = ebpf_rq_flags(BPF_CORE_READ(rq, cmd_flags));
	e->pattern = pattern;
	e->_pad0 = 0;
	e->_pad1 = 0;
	__builtin_memcpy(e->comm, in->comm, sizeof(e->comm));
	ebpf_submit(events, e);
out:
	bpf_map_delete_elem(&reqs, &rq);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
