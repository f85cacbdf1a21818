// SPDX-License-Identifier: GPL-2.0
//
// memleak: memory that was allocated and not yet freed, by the stack that
// allocated it.
//
// A lesson in keeping state in the kernel. A leak checker must see every
// allocation and every free, and a busy program makes millions a second.
// Sending each one to user space would cost more than the allocations
// themselves, so nothing is sent: the BPF programs keep the books in maps.
//
//   allocs          address → (size, time, stack id) of each live allocation
//   stacks          stack id → the instruction pointers of one call stack
//   combined_allocs stack id → total bytes and count still outstanding
//
// An allocation adds a row to `allocs` and adds to its stack's totals; a free
// finds the row by address, takes its size back off the totals and deletes
// it. User space reads the maps only when it prints a report: `allocs` for
// the default report (ages, addresses), or only the small `combined_allocs`
// with --combined-only, which stays cheap however many blocks are live.
// Events per call go out (through a ring buffer) only with -t.
//
// Two modes:
//   user   (-p PID / -c CMD): uprobes on the C library's allocator, attached
//          by user space to the functions the target's library has. An
//          allocation is seen twice: at entry (the size is an argument) and
//          at return (the address is the return value); `inflight` carries
//          the size from one to the other, per thread.
//   kernel (no PID): the kmem tracepoints, which report address and size in
//          one event (and pages by page frame number), or with --percpu the
//          percpu ones.
//
// Hooks:
//   uprobe    malloc calloc realloc posix_memalign aligned_alloc memalign
//             valloc pvalloc mmap          → *_enter: remember the size
//   uretprobe the same                      → *_exit: record the block
//   uprobe    free munmap                   → forget the block
//   uprobe    the program's entry point (-c) → gate: stop it until attached
//   tracepoint sched:sched_process_exec     → the old program's blocks are gone
//   tracepoint kmem:kmalloc kmem:kmem_cache_alloc kmem:mm_page_alloc
//             (kmem:kmalloc_node kmem:kmem_cache_alloc_node on kernels < 6.1)
//             kmem:kfree kmem:kmem_cache_free kmem:mm_page_free
//             percpu:percpu_alloc_percpu percpu:percpu_free_percpu (--percpu)
#include "ebpf/common.h"
#include "ebpf/entry_gate.h"
#include "ebpf/output.h"
#include "ebpf/container.h"   /* --cgroup, --cgroupmap, --mntnsmap (see there) */

/* ---- Load-time config (.rodata: the verifier sees constants) ---- */
const volatile __u32 targ_tgid = 0;       /* user mode: the traced process (0: any) */
const volatile __u64 min_size = 0;        /* -z: smaller allocations are ignored */
const volatile __u64 max_size = ~0ULL;    /* -Z: larger ones too */
const volatile __u32 sample_rate = 1;     /* -s N: record one allocation in N, at random */
const volatile bool trace_all = false;    /* -t: an event per call into `events` */
const volatile __u32 page_shift = 12;     /* mm_page_alloc: bytes = 1 << (page_shift + order) */
const volatile bool stop_on_exec = false; /* -c: stop the command after an exec, to look at it again */

/* ---- What the maps hold (EBPF_EXPORT: user space gets typed decoders) ---- */

#define MAX_STACK_DEPTH 127 /* frames kept per stack (PERF_MAX_STACK_DEPTH) */
#define EBPF_USTACK_DEPTH MAX_STACK_DEPTH
#include "ebpf/ustack.h"    /* the user stack walk and the hashed stack store */

/* A live allocation. */
struct alloc_info {
	__u64 size;
	__u64 timestamp_ns;   /* bpf_ktime_get_ns() when it was made (for -o) */
	__u64 stack_id;       /* key in `stacks`; 0: the stack could not be recorded */
	__u32 counted;        /* 1: included in combined_allocs (its update succeeded) */
	__u32 pad;
};
EBPF_EXPORT(alloc_info);

/* One call stack: `nr` return addresses, innermost first (ebpf/ustack.h). */
EBPF_EXPORT(ebpf_ustack);

/* The outstanding total of one stack. */
struct combined_info {
	__u64 total_size;
	__u64 number_of_allocs;
};
EBPF_EXPORT(combined_info);

/* -t: one call. */
enum event_kind { EV_ALLOC_ENTER = 1, EV_ALLOC_EXIT = 2, EV_FREE = 3 };
struct event {
	__u64 ts;             /* bpf_ktime_get_ns() */
	__u64 size;
	__u64 addr;
	__u32 pid;            /* thread group */
	__u32 tid;
	__u32 cpu;
	__u32 kind;           /* enum event_kind */
	char comm[16];
};
EBPF_EXPORT(event);

/* An allocator call between its entry and its return, per thread. */
struct inflight {
	__u64 size;
	__u64 sp;             /* stack pointer at entry; 0: the slot is free */
	__u64 memptr;         /* posix_memalign: where the result will be stored */
	__u64 old_addr;       /* realloc: the block being resized ... */
	struct alloc_info old;/* ... and its record, restored if realloc fails */
	__u32 has_old;
	__u32 skip;           /* not recorded (size filter or sampling): only tracked for nesting */
	struct ebpf_ustack stack; /* where the return probe walks the stack (too big for the BPF stack) */
};

/* ---- Maps ---- */

/* Rows are allocated as they are needed (BPF_F_NO_PREALLOC): a preallocated
 * million rows would pin ~105 MB of kernel memory from the start; on demand
 * the empty table costs ~17 MB, and measured no slower per allocation. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1000000);   /* BCC's size; user space may change it */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);             /* the address (kernel pages: the page frame number) */
	__type(value, struct alloc_info);
} allocs SEC(".maps");

/* Each distinct stack, stored once under a 64-bit hash of its frames (its
 * "stack id"): a million allocations from one place cost one stack. BCC uses
 * a BPF_MAP_TYPE_STACK_TRACE map here; see "Stacks" below for why not. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* 1 KiB a stack: only those seen */
	__type(key, __u64);
	__type(value, struct ebpf_ustack);
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240 + 1);   /* every stack id, and 0 for "lost" */
	__type(key, __u64);               /* the stack id */
	__type(value, struct combined_info);
} combined_allocs SEC(".maps");

/* One slot per thread, reused call after call. LRU: slots of threads that
 * have exited make room for new ones by themselves. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);        /* threads that call the allocator */
	__type(key, __u64);               /* bpf_get_current_pid_tgid() */
	__type(value, struct inflight);
} inflight SEC(".maps");

/* Kernel mode's stack buffer, one per CPU (tracepoint programs cannot be
 * preempted, so one program at a time uses a CPU's). */
EBPF_USTACK_SCRATCH(kstack);

EBPF_RINGBUF(events, 256 * 1024);     /* -t only; user space shrinks it otherwise */

/* Counters user space reads from .bss. */
__u64 allocs_dropped = 0;     /* allocations not recorded: `allocs` was full */
__u64 combined_dropped = 0;   /* ... not in the totals: `combined_allocs` was full */
__u64 stacks_dropped = 0;     /* stacks not stored: `stacks` was full */
__u64 exec_count = 0;         /* user mode: execs of the traced process so far */

/* What a new thread's slot starts as (bpf_map_update_elem() copies it). */
struct inflight inflight_zero = {};

/* ---- Helpers ---- */

static __always_inline bool is_target(void)
{
	return !targ_tgid || ebpf_current_tgid() == targ_tgid;
}

/* -z/-Z and -s, decided when the allocation starts, as BCC does. BCC
 * samples with `bpf_ktime_get_ns() % N == 0`, which follows the clock, not
 * chance; a random draw does not line up with periodic allocations. */
static __always_inline bool wanted(__u64 size)
{
	if (size < min_size || size > max_size)
		return false;
	if (sample_rate > 1 && bpf_get_prandom_u32() % sample_rate)
		return false;
	return true;
}

static __always_inline void emit(enum event_kind kind, __u64 size, __u64 addr)
{
	struct event *e;
	__u64 id;

	if (!trace_all)
		return; /* a constant: without -t the verifier drops all of this */
	e = ebpf_reserve(events, sizeof(*e));
	if (!e)
		return;
	id = bpf_get_current_pid_tgid();
	e->ts = bpf_ktime_get_ns();
	e->size = size;
	e->addr = addr;
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->cpu = bpf_get_smp_processor_id();
	e->kind = kind;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	ebpf_submit(events, e);
}

/* Adds to a stack's totals. The entry is created once (BPF_NOEXIST, so two
 * CPUs racing to create it both end up adding to the same one), then updated
 * in place with atomic adds: no lock, no copy. */
static __always_inline bool combined_add(__u64 stack_id, __u64 size)
{
	__u64 key = stack_id;
	struct combined_info *c, zero = {};

	c = bpf_map_lookup_elem(&combined_allocs, &key);
	if (!c) {
		bpf_map_update_elem(&combined_allocs, &key, &zero, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&combined_allocs, &key);
		if (!c) {
			__sync_fetch_and_add(&combined_dropped, 1);
			return false;
		}
	}
	__sync_fetch_and_add(&c->total_size, size);
	__sync_fetch_and_add(&c->number_of_allocs, 1);
	return true;
}

/* Takes back what combined_add() added: exactly that, so totals never go
 * below zero (BCC clamps at zero instead, which hides errors). */
static __always_inline void combined_sub(__u64 stack_id, __u64 size)
{
	__u64 key = stack_id;
	struct combined_info *c = bpf_map_lookup_elem(&combined_allocs, &key);

	if (!c)
		return;
	__sync_fetch_and_add(&c->total_size, -size);
	__sync_fetch_and_add(&c->number_of_allocs, -1);
}

/* A block is gone: take it off its stack's totals (the caller deletes or
 * replaces its row). */
static __always_inline void forget(struct alloc_info *info)
{
	if (info->counted)
		combined_sub(info->stack_id, info->size);
}

static __always_inline void free_addr(__u64 addr)
{
	struct alloc_info *info = bpf_map_lookup_elem(&allocs, &addr);
	__u64 size;

	if (!info)
		return; /* not ours: made before we started, filtered, or sampled out */
	size = info->size;
	forget(info);
	bpf_map_delete_elem(&allocs, &addr);
	emit(EV_FREE, size, addr);
}

/* ---- Stacks ----
 *
 * User stacks. bpf_get_stackid(BPF_F_USER_STACK) walks the frame-pointer
 * chain in the kernel, and the walk only ends when a read fails: the
 * outermost frame's saved %rbp is 0 (or, under code built without frame
 * pointers such as Debian's libc, whatever that code left in %rbp), and
 * reading there takes a page fault the kernel then recovers from. Here that
 * fault cost ~0.4 µs, on every allocation. So the chain is followed by this
 * program (ebpf_user_stack(), ebpf/ustack.h), which stops *before* reading
 * anything that cannot be a frame. Each stack is stored once under a 64-bit
 * hash of its frames; its id is never 0 (0 means "no stack"). */

/* Stores the stack (once) and returns its id; 0 when `stacks` is full. */
static __always_inline __u64 stack_id(struct ebpf_ustack *s, __u64 hash)
{
	return ebpf_ustack_id(&stacks, s, hash, &stacks_dropped);
}

/* Kernel stacks: the kernel's own unwinder, into this CPU's buffer. */
static __always_inline __u64 kernel_stack_id(void *ctx)
{
	struct ebpf_ustack *s = ebpf_ustack_scratch(&kstack);
	__u64 hash;

	if (!s || ebpf_get_stack(ctx, s, 0, &hash) <= 0)
		return 0;
	return stack_id(s, hash);
}

/* Records a new block at `addr`. If a row for that address still exists,
 * its free was missed (BCC's --wa-missing-free case): an allocator only hands
 * out an address again after it was freed, so the old row is retired first,
 * and the books stay consistent (the totals always equal the sum of rows). */
static __always_inline void record(__u64 addr, __u64 size, __u64 stack, const struct alloc_info *restore)
{
	struct alloc_info info = {}, *old;

	old = bpf_map_lookup_elem(&allocs, &addr);
	if (old)
		forget(old);
	if (restore) {
		info = *restore;
	} else {
		info.size = size;
		info.timestamp_ns = bpf_ktime_get_ns();
		info.stack_id = stack;
	}
	info.counted = combined_add(info.stack_id, info.size);
	if (bpf_map_update_elem(&allocs, &addr, &info, BPF_ANY)) {
		if (info.counted)
			combined_sub(info.stack_id, info.size);
		__sync_fetch_and_add(&allocs_dropped, 1);
	}
}

/* ---- User mode: entry and return of an allocator call ----
 *
 * Nesting. glibc's allocator calls itself: realloc(NULL, n) and memalign()
 * call malloc(), a large malloc() calls mmap(), free() may call munmap().
 * Those inner calls hit our probes too. The caller's call is the one that
 * counts (its size and its stack are what the program asked for), so an
 * entry made while this thread is already inside a probed allocator call is
 * ignored, and so is its return. "Inside" is decided by the stack pointer:
 * an inner call runs below (at a lower address than) the outer call's entry,
 * and a return belongs to the outer call when the stack is back above it.
 * A slot left by a call that never returned (longjmp out of a signal
 * handler) is simply replaced by the next call at the same depth or above. */

static __always_inline int alloc_enter(struct pt_regs *ctx, __u64 size, __u64 memptr)
{
	__u64 id = bpf_get_current_pid_tgid(), sp = PT_REGS_SP(ctx);
	struct inflight *in;

	if (!is_target())
		return 0;
	/* The container filters apply where an allocation starts (frees of
	 * blocks never recorded just find nothing). */
	if (!ebpf_container_allowed())
		return 0;
	in = bpf_map_lookup_elem(&inflight, &id);
	if (in && in->sp && sp < in->sp)
		return 0; /* nested: the outer call reports */
	if (!in) {
		/* First call on this thread: make its slot; later calls reuse it
		 * in place (no map update on the hot path). */
		bpf_map_update_elem(&inflight, &id, &inflight_zero, BPF_ANY);
		in = bpf_map_lookup_elem(&inflight, &id);
		if (!in)
			return 0;
	}
	in->size = size;
	in->sp = sp;
	in->memptr = memptr;
	in->has_old = 0;
	in->skip = !wanted(size);
	if (!in->skip)
		emit(EV_ALLOC_ENTER, size, 0);
	return 0;
}

/* The slot of this thread's outermost call, if `ctx` is its return. */
static __always_inline struct inflight *returning(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct inflight *in = bpf_map_lookup_elem(&inflight, &id);

	/* At the return the stack pointer is just above the entry's (the
	 * return address was popped); an inner call returns below it. */
	if (!in || !in->sp || PT_REGS_SP(ctx) <= in->sp)
		return 0;
	in->sp = 0; /* the slot is free again */
	return in;
}

static __always_inline int alloc_done(struct pt_regs *ctx, struct inflight *in, __u64 addr)
{
	if (in->skip)
		return 0;
	if (addr) {
		/* The stack as it is now: the caller's frames. */
		__u64 hash = ebpf_user_stack(ctx, &in->stack);

		record(addr, in->size, stack_id(&in->stack, hash), 0);
	}
	emit(EV_ALLOC_EXIT, in->size, addr);
	return 0;
}

static __always_inline int alloc_exit(struct pt_regs *ctx)
{
	struct inflight *in = returning(ctx);

	return in ? alloc_done(ctx, in, PT_REGS_RC(ctx)) : 0;
}

/* Uprobes and uretprobes get the registers of the probed instruction; the
 * BPF_KPROBE macros name the argument registers (they are the same for
 * user functions). Each *_enter runs where user space placed it: the entry,
 * or a few bytes in where the kernel can emulate the instruction instead of
 * single-stepping it, with the arguments still in place (see
 * attach-point.ts).
 *
 * Most allocators differ only in how the size is given, so one macro writes
 * their pair of programs: ALLOC_PROBES(calloc, nmemb * size, size_t nmemb,
 * size_t size) defines
 *
 *   SEC("uprobe")    int calloc_enter(...)   arguments named as listed,
 *                                            alloc_enter(ctx, nmemb * size, 0)
 *   SEC("uretprobe") int calloc_exit(...)    alloc_exit(ctx)
 *
 * (`##` pastes the function's name onto _enter and _exit, and the argument
 * list goes on to BPF_KPROBE as it is.) Each is still its own BPF program,
 * named after the function it probes, which is how user space finds it. */
#define ALLOC_PROBES(fn, bytes, ...)                  \
	SEC("uprobe")                                 \
	int BPF_KPROBE(fn##_enter, __VA_ARGS__)       \
	{                                             \
		return alloc_enter(ctx, bytes, 0);    \
	}                                             \
                                                      \
	SEC("uretprobe")                              \
	int fn##_exit(struct pt_regs *ctx)            \
	{                                             \
		return alloc_exit(ctx);               \
	}

ALLOC_PROBES(malloc, size, size_t size)
ALLOC_PROBES(calloc, nmemb * size, size_t nmemb, size_t size)

/* realloc(ptr, size) frees ptr (unless it fails) and returns a new block,
 * which may be at the same address. The old row is taken out at entry
 * (before the block can be reused by another thread) but kept in the slot:
 * if realloc fails (NULL for a nonzero size), the old block is still live
 * and its row goes back. */
SEC("uprobe")
int BPF_KPROBE(realloc_enter, void *ptr, size_t size)
{
	__u64 id = bpf_get_current_pid_tgid(), addr = (__u64)ptr;
	struct alloc_info *old;
	struct inflight *in;

	if (!is_target())
		return 0;
	alloc_enter(ctx, size, 0);
	in = bpf_map_lookup_elem(&inflight, &id);
	if (!in || in->sp != PT_REGS_SP(ctx))
		return 0; /* nested: the outer call deals with it */
	if (!addr)
		return 0;
	old = bpf_map_lookup_elem(&allocs, &addr);
	if (!old)
		return 0;
	in->old = *old;
	in->old_addr = addr;
	in->has_old = 1;
	free_addr(addr);
	return 0;
}

SEC("uretprobe")
int realloc_exit(struct pt_regs *ctx)
{
	struct inflight *in = returning(ctx);
	__u64 addr = PT_REGS_RC(ctx);

	if (!in)
		return 0;
	if (!addr && in->size && in->has_old) {
		struct alloc_info old = in->old;

		record(in->old_addr, old.size, 0, &old); /* failed: the old block lives on */
		return 0;
	}
	return alloc_done(ctx, in, addr);
}

/* posix_memalign(&ptr, alignment, size) returns 0 and stores the address
 * through its first argument. */
SEC("uprobe")
int BPF_KPROBE(posix_memalign_enter, void **memptr, size_t alignment, size_t size)
{
	return alloc_enter(ctx, size, (__u64)memptr);
}

SEC("uretprobe")
int posix_memalign_exit(struct pt_regs *ctx)
{
	struct inflight *in = returning(ctx);
	void *addr = 0;

	if (!in)
		return 0;
	if (PT_REGS_RC(ctx) != 0 || bpf_probe_read_user(&addr, sizeof(addr), (void *)in->memptr))
		addr = 0;
	return alloc_done(ctx, in, (__u64)addr);
}

ALLOC_PROBES(aligned_alloc, size, size_t alignment, size_t size)
ALLOC_PROBES(memalign, size, size_t alignment, size_t size)
ALLOC_PROBES(valloc, size, size_t size)
ALLOC_PROBES(pvalloc, size, size_t size)

/* mmap(addr, length, ...) returns MAP_FAILED, (void *)-1, on failure (BCC
 * records that as a block at 0xffffffffffffffff). */
SEC("uprobe")
int BPF_KPROBE(mmap_enter, void *addr, size_t length)
{
	return alloc_enter(ctx, length, 0);
}

SEC("uretprobe")
int mmap_exit(struct pt_regs *ctx)
{
	struct inflight *in = returning(ctx);
	__u64 addr = PT_REGS_RC(ctx);

	return in ? alloc_done(ctx, in, addr == ~0ULL ? 0 : addr) : 0;
}

/* free(ptr): runs a few bytes into free() on glibc (after the NULL test),
 * where %rdi still holds ptr. */
SEC("uprobe")
int BPF_KPROBE(free_enter, void *ptr)
{
	if (is_target())
		free_addr((__u64)ptr);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(munmap_enter, void *addr)
{
	if (is_target())
		free_addr((__u64)addr);
	return 0;
}

/* -c: at the program's entry point (every library is mapped, main() has not
 * run), stop the process; user space attaches the allocator probes to the
 * library it really mapped, then lets it go on. */
EBPF_ENTRY_GATE(is_target)

/* The traced process ran exec(): its old address space is gone, and with it
 * every block still recorded (and any allocator call in flight: exec kills
 * the other threads). All rows in user mode belong to this process, so all
 * go. bpf_for_each_map_elem() visits each element once and its callback may
 * delete the one it is given. With -c, the process is also stopped (the
 * signal lands on its first instruction, in the dynamic loader), so user
 * space can stop it again at the new program's entry point, read its
 * mappings, and probe the allocator the new program maps if it differs. */
static long drop_elem(struct bpf_map *map, const void *key, void *value, void *ctx)
{
	bpf_map_delete_elem(map, key);
	return 0;
}

SEC("tracepoint/sched/sched_process_exec")
int exec_seen(void *ctx)
{
	if (!targ_tgid || ebpf_current_tgid() != targ_tgid)
		return 0;
	bpf_for_each_map_elem(&allocs, drop_elem, 0, 0);
	bpf_for_each_map_elem(&combined_allocs, drop_elem, 0, 0);
	bpf_for_each_map_elem(&inflight, drop_elem, 0, 0);
	__sync_fetch_and_add(&exec_count, 1);
	if (stop_on_exec)
		bpf_send_signal(19 /* SIGSTOP */);
	return 0;
}

/* ---- Kernel mode: the kmem and percpu tracepoints ----
 * Each allocation tracepoint fires after the allocation with its address and
 * size, so there is no entry/return pairing; the stack is the kernel's. */

static __always_inline int kernel_alloc(void *ctx, __u64 addr, __u64 size)
{
	if (!addr || !wanted(size))
		return 0;
	if (!ebpf_container_allowed())
		return 0; /* in process context, the allocating task's container */
	emit(EV_ALLOC_ENTER, size, 0);
	record(addr, size, kernel_stack_id(ctx), 0);
	emit(EV_ALLOC_EXIT, size, addr);
	return 0;
}

SEC("tracepoint/kmem/kmalloc")
int kmalloc(struct trace_event_raw_kmalloc *ctx)
{
	return kernel_alloc(ctx, (__u64)ctx->ptr, ctx->bytes_alloc);
}

SEC("tracepoint/kmem/kmem_cache_alloc")
int kmem_cache_alloc(struct trace_event_raw_kmem_cache_alloc *ctx)
{
	return kernel_alloc(ctx, (__u64)ctx->ptr, ctx->bytes_alloc);
}

SEC("tracepoint/kmem/kfree")
int kfree(struct trace_event_raw_kfree *ctx)
{
	free_addr((__u64)ctx->ptr);
	return 0;
}

SEC("tracepoint/kmem/kmem_cache_free")
int kmem_cache_free(struct trace_event_raw_kmem_cache_free *ctx)
{
	free_addr((__u64)ctx->ptr);
	return 0;
}

/* Pages are keyed by page frame number: the page allocator's tracepoints
 * report pfns, which turn into addresses only through kernel arithmetic a
 * BPF program should not copy. pfns are small numbers and never collide
 * with kernel addresses. A failed allocation reports pfn -1. */
SEC("tracepoint/kmem/mm_page_alloc")
int mm_page_alloc(struct trace_event_raw_mm_page_alloc *ctx)
{
	if (ctx->pfn == ~0UL)
		return 0;
	return kernel_alloc(ctx, ctx->pfn, 1ULL << (page_shift + ctx->order));
}

SEC("tracepoint/kmem/mm_page_free")
int mm_page_free(struct trace_event_raw_mm_page_free *ctx)
{
	free_addr(ctx->pfn);
	return 0;
}

SEC("tracepoint/percpu/percpu_alloc_percpu")
int percpu_alloc(struct trace_event_raw_percpu_alloc_percpu *ctx)
{
	return kernel_alloc(ctx, (__u64)ctx->ptr, ctx->size);
}

SEC("tracepoint/percpu/percpu_free_percpu")
int percpu_free(struct trace_event_raw_percpu_free_percpu *ctx)
{
	free_addr((__u64)ctx->ptr);
	return 0;
}

/* Kernels before 6.1 have separate *_node tracepoints (gone since: kmalloc
 * reports the node). This kernel's BTF has no type for them, so their
 * record is spelled out; user space loads these only where they exist. */
struct kmem_alloc_node_record {
	__u64 common;         /* struct trace_entry */
	__u64 call_site;
	const void *ptr;
	__u64 bytes_req;
	__u64 bytes_alloc;
};

SEC("tracepoint/kmem/kmalloc_node")
int kmalloc_node(struct kmem_alloc_node_record *ctx)
{
	return kernel_alloc(ctx, (__u64)ctx->ptr, ctx->bytes_alloc);
}

SEC("tracepoint/kmem/kmem_cache_alloc_node")
int kmem_cache_alloc_node(struct kmem_alloc_node_record *ctx)
{
	return kernel_alloc(ctx, (__u64)ctx->ptr, ctx->bytes_alloc);
}

char LICENSE[] SEC("license") = "GPL";
