// SPDX-License-Identifier: GPL-2.0
//
// javagc: how long each garbage collection of one Java VM pauses it.
//
// A lesson in USDT probes, and in pairing a "begin" with its own "end".
//
// HotSpot, the JVM of OpenJDK, is compiled with static probes: at chosen
// points of its C++ source a macro leaves a `nop` instruction and an ELF note
// (.note.stapsdt) saying "probe hotspot:gc__begin is at this address, and its
// arguments are in these registers". Nothing runs there until a tracer asks:
// libbpf reads the note, puts a uprobe on the nop (so only the process we
// trace takes a trap there), and tells this program, through a BPF cookie,
// where to find each argument. BPF_USDT() below turns that into C parameters.
//
// The probes (in the JVM's libjvm.so), in the order HotSpot fires them:
//
//   gc__begin(is_full)                 a collection starts; the threads are
//                                      stopped (a safepoint)
//     mem__pool__gc__begin(...) x N    usage of each memory pool, before
//     mem__pool__gc__end(...)   x N    usage of each memory pool, after
//   gc__end()                          the threads may run again
//
// Pairing them is the whole difficulty, and both reference tools get it wrong:
// libbpf-tools keeps ONE start time per process, written by all four begin
// probes and consumed by the first end probe, so it measures "last pool
// begin -> first pool end"; BCC's ugc never deletes its start, so it prints
// N + 1 lines per collection. Here each begin is paired with the end of the
// SAME collection, and the key that makes that true is the THREAD id:
//
//   * HotSpot fires gc__begin and gc__end from one C++ object on the stack
//     (SvcGCMarker: begin in its constructor, end in its destructor), and the
//     pool probes from another (TraceMemoryManagerStats). A constructor and
//     its destructor run on the same thread, so begin and end of one
//     collection always come from the same thread (the "VM Thread").
//   * Different collections can overlap in one process, on different threads.
//     With ZGC or Shenandoah the concurrent cycle fires its pool probes on
//     the GC driver thread while the short pauses inside it fire
//     gc__begin/gc__end on the VM Thread (seen here with bpftrace on
//     OpenJDK 17). A per-process key would pair a pause's begin with a
//     cycle's pool end; a per-thread key cannot.
//   * Within one collection the pool probes come in two rounds over the
//     same list of pools. A pool's begin and end carry the same name
//     pointers (the pool's and its memory manager's `const char *` names,
//     which live as long as the JVM), so (thread, manager, pool) names one
//     pool of one collection; no need to rely on the order.
//
// What user space receives, one record per collection: a struct gc_record,
// followed (with --pools) by one struct pool_record per pool. The pool
// records are gathered on the thread's `spans` entry while the collection
// runs and sent with it at gc__end, so the threshold (decided only once the
// pause is over) keeps or drops a pause and its pools together.
//
// Pool probes outside any gc__begin/gc__end on their thread (the concurrent
// cycles of ZGC and Shenandoah) are reported as a "cycle": sent when every
// pool begun on that thread has ended, timed from the first pool begin.
#include "ebpf/common.h"
#include "ebpf/output.h"
#include <bpf/usdt.bpf.h>

/* ---- Load-time config (const volatile = .rodata, set before load) ---- */

/* The JVM, named in its OWN pid namespace: the namespace's device and inode
 * (stat /proc/PID/ns/pid) and the JVM's process id there (the last NSpid of
 * /proc/PID/status). libbpf already asks the kernel to fire the probes only
 * in that process; checking again here costs one helper call and keeps the
 * tool right on kernels that ran every program of a shared uprobe for all
 * processes. Why its own namespace: bpf_get_ns_current_pid_tgid() answers
 * only for the namespace the current task lives in, so a JVM in a container
 * must be checked in the container's namespace, whatever ours is. */
const volatile __u32 targ_tgid = 0;
const volatile __u64 pidns_dev = 0;
const volatile __u64 pidns_ino = 0;

/* Report only collections that took at least this long (-t, in ns). The
 * comparison happens here, so short collections cost no record at all. */
const volatile __u64 min_ns = 0;

#define NAME_LEN 64   /* bytes kept of a manager or pool name (a power of 2) */
#define MAX_POOLS 32  /* pool records per collection (G1: 6-8; Parallel, young + full in one pause: 16) */

/* gc_record.kind */
#define KIND_PAUSE 1  /* gc__begin .. gc__end: the application was stopped */
#define KIND_CYCLE 2  /* pool probes with no gc__begin around them: a concurrent cycle */

/* ---- What user space receives ---- */

/* One collection. `npools` struct pool_record follow it in the same record. */
struct gc_record {
	__u64 ts;           /* bpf_ktime_get_ns() at the end (CLOCK_MONOTONIC) */
	__u64 duration_ns;  /* 64 bits of nanoseconds: no wrap after 4.29 s (libbpf's u32 does) */
	__u32 pid;          /* the JVM's process id, in its own pid namespace */
	__u32 tid;          /* the thread that ran the collection, likewise */
	__u32 cpu;          /* CPU at the end, as libbpf's CPU column */
	__u8 kind;          /* KIND_PAUSE or KIND_CYCLE */
	__u8 full;          /* gc__begin's argument: a full collection */
	__u16 _pad;
	__u32 npools;       /* pool records that follow */
	__u32 pools_dropped; /* pools begun beyond MAX_POOLS (not reported) */
};
EBPF_EXPORT(gc_record);

/* java.lang.management.MemoryUsage: bytes, -1 where undefined (e.g. max). */
struct mem_usage {
	__s64 init;
	__s64 used;
	__s64 committed;
	__s64 max;
};

/* One memory pool in one collection. The names come from the probe as
 * (pointer, length) pairs and are NOT NUL-terminated in the JVM's memory, so
 * the lengths travel with them: user space decodes exactly that many bytes. */
struct pool_record {
	__u64 begin_ts;     /* mem__pool__gc__begin */
	__u64 end_ts;       /* mem__pool__gc__end; 0 if it never came */
	struct mem_usage before;
	struct mem_usage after;
	__u32 manager_len;  /* length the probe gave; more than NAME_LEN: truncated */
	__u32 pool_len;
	__u8 manager[NAME_LEN]; /* e.g. "G1 Old Generation" */
	__u8 pool[NAME_LEN];    /* e.g. "G1 Eden Space" */
};
EBPF_EXPORT(pool_record);

/* ---- Maps ---- */

/* Which pool a slot is: the addresses of its manager's and its own name. */
struct pool_key {
	__u64 manager;
	__u64 pool;
};

/* A thread's collection in progress. `rec` and `pools` are laid out exactly
 * as the record user space reads, so sending it is one copy. */
struct span {
	struct gc_record rec;
	struct pool_record pools[MAX_POOLS];
	struct pool_key keys[MAX_POOLS];
	__u64 start;        /* gc__begin time; 0: no pause open on this thread */
	__u32 nended;       /* pools whose end was seen */
};
_Static_assert(__builtin_offsetof(struct span, pools) == sizeof(struct gc_record),
	       "the pool records must follow the header with no padding");

/* Keyed by thread id (see the top). A span is ~7.5 KiB, too big to build on
 * the 512-byte BPF stack, so a thread's entry is created once from a zeroed
 * template and then reused for every collection that thread runs; only the
 * few GC threads of one JVM ever get one. No preallocation: memory is taken
 * for those entries only, not for max_entries of them. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct span);
} spans SEC(".maps");

/* The template: array entries are zero-filled when the map is created, and
 * bpf_map_update_elem() may copy a value from another map's memory. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct span);
} zero_span SEC(".maps");

/* Records to user space; drops are counted in events_drops. A collection is
 * 40 bytes, or ~2 KiB with 8 pools; collections are rare (at most hundreds a
 * second), so this holds far more than one 20 ms drain interval needs. */
EBPF_RINGBUF(events, 256 * 1024);

/* ---- Helpers ---- */

/* True when the current task belongs to the JVM we trace; fills ids with its
 * process and thread ids as the JVM's pid namespace sees them. */
static __always_inline bool in_target(struct bpf_pidns_info *ids)
{
	if (bpf_get_ns_current_pid_tgid(pidns_dev, pidns_ino, ids, sizeof(*ids)))
		return false; /* another pid namespace: not our JVM */
	return ids->tgid == targ_tgid;
}

/* This thread's span, created on first use. */
static __always_inline struct span *thread_span(__u32 tid)
{
	struct span *s = bpf_map_lookup_elem(&spans, &tid);
	__u32 zero = 0;
	void *init;

	if (s)
		return s;
	init = bpf_map_lookup_elem(&zero_span, &zero);
	if (!init)
		return NULL;
	bpf_map_update_elem(&spans, &tid, init, BPF_NOEXIST);
	return bpf_map_lookup_elem(&spans, &tid);
}

/* Copies a (pointer, length) string from the JVM: at most NAME_LEN bytes,
 * no NUL expected or added. Returns the length to report (0 if unreadable). */
static __always_inline __u32 read_name(__u8 *dst, const void *src, __u64 len)
{
	__u64 n = len < NAME_LEN ? len : NAME_LEN;

	/* The verifier needs a size it can bound; the compiler may fold the
	 * check above away, barrier_var() keeps it in sight. */
	barrier_var(n);
	if (n > NAME_LEN)
		n = NAME_LEN;
	if (bpf_probe_read_user(dst, n, src))
		return 0;
	return len > 0xffffffff ? 0xffffffff : len;
}

/* The slot of an open (begun, not ended) pool with these names, or -1. */
static __always_inline int find_pool(struct span *s, __u64 manager, __u64 pool)
{
	__u32 n = s->rec.npools;
	int i;

	for (i = 0; i < MAX_POOLS; i++) {
		if (i >= n)
			break;
		if (s->keys[i].manager == manager && s->keys[i].pool == pool &&
		    !s->pools[i].end_ts)
			return i;
	}
	return -1;
}

/* Sends the span as a record (header + its pool records) if it lasted long
 * enough. The size is computed from a count the verifier can bound, so it
 * can prove the copy stays inside the map value. */
static __always_inline void send(struct span *s, __u8 kind, __u64 now, __u64 begin,
				 struct bpf_pidns_info *ids)
{
	__u32 n = s->rec.npools;
	__u64 size;

	s->rec.duration_ns = now - begin;
	if (s->rec.duration_ns < min_ns)
		return;
	s->rec.ts = now;
	s->rec.kind = kind;
	s->rec.pid = ids->tgid;
	s->rec.tid = ids->pid;
	s->rec.cpu = bpf_get_smp_processor_id();
	if (n > MAX_POOLS)
		n = MAX_POOLS;
	size = sizeof(struct gc_record) + (__u64)n * sizeof(struct pool_record);
	barrier_var(size);
	if (size > sizeof(struct gc_record) + sizeof(s->pools))
		return;
	ebpf_output(events, &s->rec, size);
}

/* Forgets the collection: the entry stays, ready for the thread's next one. */
static __always_inline void reset(struct span *s)
{
	s->start = 0;
	s->nended = 0;
	s->rec.npools = 0;
	s->rec.pools_dropped = 0;
	s->rec.full = 0;
}

/* ---- Entry points: one per probe. SEC("usdt") programs are attached by
 * user space (provider, name, binary, pid), not from the section name. ---- */

/* hotspot:gc__begin(bool is_full): the threads are stopped. */
SEC("usdt")
int BPF_USDT(gc_begin, long is_full)
{
	struct bpf_pidns_info ids;
	struct span *s;

	if (!in_target(&ids))
		return 0;
	s = thread_span(ids.pid);
	if (!s)
		return 0;
	reset(s); /* a begin starts a new collection on this thread */
	s->rec.full = is_full != 0;
	s->start = bpf_ktime_get_ns();
	return 0;
}

/* hotspot:gc__end(): the collection is over; report it. */
SEC("usdt")
int BPF_USDT(gc_end)
{
	__u64 now = bpf_ktime_get_ns();
	struct bpf_pidns_info ids;
	struct span *s;

	if (!in_target(&ids))
		return 0;
	s = bpf_map_lookup_elem(&spans, &ids.pid);
	if (!s)
		return 0;
	/* No begin: the tool started during this collection. Drop it rather
	 * than report a made-up duration. */
	if (s->start)
		send(s, KIND_PAUSE, now, s->start, &ids);
	reset(s);
	return 0;
}

/* hotspot:mem__pool__gc__begin(manager, manager_len, pool, pool_len,
 *                              init, used, committed, max): 8 arguments of
 * 8 bytes; on OpenJDK 17 "8@%r14 8@%rbx 8@%r13 8@%rdi 8@%r8 8@%rax 8@%r9 8@%rdx". */
SEC("usdt")
int BPF_USDT(pool_begin, const char *manager, long manager_len, const char *pool,
	     long pool_len, long init, long used, long committed, long max)
{
	struct bpf_pidns_info ids;
	struct pool_record *p;
	struct span *s;
	__u32 i;

	if (!in_target(&ids))
		return 0;
	s = thread_span(ids.pid);
	if (!s)
		return 0;
	i = s->rec.npools;
	if (i >= MAX_POOLS) {
		s->rec.pools_dropped++;
		return 0;
	}
	p = &s->pools[i];
	p->begin_ts = bpf_ktime_get_ns();
	p->end_ts = 0;
	p->before.init = init;
	p->before.used = used;
	p->before.committed = committed;
	p->before.max = max;
	p->after = p->before; /* overwritten at the end; kept if it never comes */
	p->manager_len = read_name(p->manager, manager, manager_len);
	p->pool_len = read_name(p->pool, pool, pool_len);
	s->keys[i].manager = (__u64)manager;
	s->keys[i].pool = (__u64)pool;
	s->rec.npools = i + 1;
	return 0;
}

/* hotspot:mem__pool__gc__end(...): the same arguments, after the collection. */
SEC("usdt")
int BPF_USDT(pool_end, const char *manager, long manager_len, const char *pool,
	     long pool_len, long init, long used, long committed, long max)
{
	__u64 now = bpf_ktime_get_ns();
	struct bpf_pidns_info ids;
	struct pool_record *p;
	struct span *s;
	int i;

	if (!in_target(&ids))
		return 0;
	s = bpf_map_lookup_elem(&spans, &ids.pid);
	if (!s)
		return 0;
	i = find_pool(s, (__u64)manager, (__u64)pool);
	if (i < 0 || i >= MAX_POOLS)
		return 0; /* its begin came before the tool started */
	p = &s->pools[i];
	p->end_ts = now;
	p->after.init = init;
	p->after.used = used;
	p->after.committed = committed;
	p->after.max = max;
	s->nended++;

	/* Inside a pause, gc__end reports the pools. Outside one, this was a
	 * concurrent cycle: it is over when its last open pool ends. (Should the
	 * tool start between a gc__begin and the first pool begin, that pause's
	 * pools are reported this way once, as a cycle.) */
	if (!s->start && s->nended >= s->rec.npools) {
		send(s, KIND_CYCLE, now, s->pools[0].begin_ts, &ids);
		reset(s);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
