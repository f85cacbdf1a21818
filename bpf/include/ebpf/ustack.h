/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Stacks stored once each, under a 64-bit hash of their frames, and user
 * stacks walked by hand, for the stack tools (memleak, offcputime, profile,
 * timemachine).
 *
 * A stack's id is the FNV-1a hash of its frames and depth, in a hash map the
 * tool declares: a million samples or calls from one place cost one stack.
 * BCC's stack trace map (BPF_MAP_TYPE_STACK_TRACE) keeps one stack per
 * bucket and loses a stack whose bucket is taken, even with room to spare; a
 * 64-bit hash does not collide in practice, so a stack is missed only when
 * the map is full.
 *
 * User stacks: bpf_get_stack(BPF_F_USER_STACK) follows the frame-pointer
 * chain in the kernel and only stops when a read fails: the outermost frame's
 * saved %rbp is 0, or garbage under code built without frame pointers
 * (Debian's libc), and reading there takes a page fault the kernel recovers
 * from (~0.4 µs here, on every call: more than the rest of the walk). Here
 * the chain is followed with bpf_probe_read_user(), and the walk stops
 * *before* reading anything that cannot be a frame: a frame pointer must be
 * non-zero, 8-byte aligned, above the previous frame (stacks grow down, so a
 * caller's frame is at a higher address) and within EBPF_USTACK_SPAN of the
 * stack pointer. That also drops the garbage frames a stray %rbp produces.
 * x86-64 frame layout: [fp] = the caller's saved %rbp, [fp + 8] = the return
 * address.
 *
 * Loops run through bpf_loop(): the verifier checks the callback once
 * instead of once per step of an unrolled 127-step loop (which made loading
 * take a second).
 *
 * Usage:
 *   #define EBPF_USTACK_DEPTH 32            // before the include (default 127)
 *   #include "ebpf/ustack.h"
 *   EBPF_USTACK_MAP(stacks, 10240);         // or a map of your own with value struct ebpf_ustack
 *   EBPF_USTACK_SCRATCH(scratch);           // per-CPU scratch (a stack is too big for the BPF stack)
 *   struct ebpf_ustack *s = ebpf_ustack_scratch(&scratch);  // or a per-thread one of your own
 *
 *   __u64 hash = ebpf_user_stack(ctx, s);                    // a uprobe's registers
 *   __u64 hash = ebpf_user_stack_at_entry(ctx, s);           // a uprobe on a function's first instruction
 *   __u64 hash = ebpf_user_stack_at(s, ip, sp, fp);          // any user registers
 *   long n = ebpf_get_stack(ctx, s, flags, &hash);           // the kernel's unwinder (n <= 0: none)
 *   __u64 id = ebpf_stack_store(&stacks, s, hash, first);    // stored once: an id >= first, 0 when full
 *   __u64 id = ebpf_ustack_id(&stacks, s, hash, &dropped);   // the same with first = 1, misses counted
 */
#ifndef __EBPF_USTACK_H
#define __EBPF_USTACK_H

#ifndef EBPF_USTACK_DEPTH
#define EBPF_USTACK_DEPTH 127 /* PERF_MAX_STACK_DEPTH */
#endif
#define EBPF_USTACK_SPAN (64ULL << 20)
#define EBPF_FNV_OFFSET 0xcbf29ce484222325ULL
#define EBPF_FNV_PRIME 0x100000001b3ULL

/* One call stack: `nr` return addresses, innermost first. */
struct ebpf_ustack {
	__u64 nr;
	__u64 ips[EBPF_USTACK_DEPTH];
};

#define EBPF_USTACK_MAP(name, entries)                        \
	struct {                                              \
		__uint(type, BPF_MAP_TYPE_HASH);              \
		__uint(max_entries, (entries));               \
		__uint(map_flags, BPF_F_NO_PREALLOC);         \
		__type(key, __u64);                           \
		__type(value, struct ebpf_ustack);            \
	} name SEC(".maps")

/* A stack's scratch space, one per CPU (a program runs to its end on its
 * CPU, and does not run again inside itself): a stack is too big for the
 * 512-byte BPF stack. ebpf_ustack_scratch(&name) gives this CPU's. */
#define EBPF_USTACK_SCRATCH(name)                             \
	struct {                                              \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);      \
		__uint(max_entries, 1);                       \
		__type(key, __u32);                           \
		__type(value, struct ebpf_ustack);            \
	} name SEC(".maps")

static __always_inline struct ebpf_ustack *ebpf_ustack_scratch(void *map)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(map, &zero);
}

struct ebpf__walk {
	struct ebpf_ustack *s;
	__u64 sp;     /* the stack pointer at the probe */
	__u64 fp;     /* the next frame to read */
	__u64 low;    /* the lowest address the next frame may start at */
	__u64 hash;
};

/* One step of the walk: the frame at w->fp, written after those already in
 * `s` (nr of them). */
static long ebpf__walk_frame_shifted(__u64 i, void *data)
{
	struct ebpf__walk *w = data;
	struct { __u64 next, ret; } frame;
	__u64 fp = w->fp, at = w->s->nr;

	if (at >= EBPF_USTACK_DEPTH)
		return 1;
	if (!fp || (fp & 7) || fp < w->low || fp - w->sp > EBPF_USTACK_SPAN)
		return 1; /* not a frame: stop before reading it */
	if (bpf_probe_read_user(&frame, sizeof(frame), (void *)fp) || !frame.ret)
		return 1;
	w->s->ips[at] = frame.ret;
	w->s->nr = at + 1;
	w->hash = (w->hash ^ frame.ret) * EBPF_FNV_PRIME;
	w->low = fp + sizeof(frame);
	w->fp = frame.next;
	return 0;
}

static long ebpf__hash_frame(__u64 i, void *data)
{
	struct ebpf__walk *w = data;

	if (i >= EBPF_USTACK_DEPTH || i >= w->s->nr)
		return 1;
	w->hash = (w->hash ^ w->s->ips[i]) * EBPF_FNV_PRIME;
	return 0;
}

/* Fills `s` with the user stack whose innermost frame is at `ip`, with the
 * stack pointer `sp` and frame pointer `fp`; returns the FNV-1a hash of its
 * frames (the depth is mixed in by ebpf_stack_store()). */
static __always_inline __u64 ebpf_user_stack_at(struct ebpf_ustack *s, __u64 ip, __u64 sp, __u64 fp)
{
	struct ebpf__walk w = { .s = s, .sp = sp, .fp = fp, .low = sp, .hash = EBPF_FNV_OFFSET };

	s->ips[0] = ip;
	s->nr = 1;
	w.hash = (w.hash ^ ip) * EBPF_FNV_PRIME;
	bpf_loop(EBPF_USTACK_DEPTH - 1, ebpf__walk_frame_shifted, &w, 0);
	return w.hash;
}

/* Fills `s` with the user stack at the probe (a uprobe's registers); returns
 * the FNV-1a hash of its frames. */
static __always_inline __u64 ebpf_user_stack(struct pt_regs *ctx, struct ebpf_ustack *s)
{
	return ebpf_user_stack_at(s, PT_REGS_IP(ctx), PT_REGS_SP(ctx), PT_REGS_FP(ctx));
}

/* The same, for a probe on a function's first instruction: the function has
 * not pushed its frame yet, so %rbp is still its caller's frame and the
 * caller's own return address is only at [%rsp]; without it the walk would
 * skip the caller. */
static __always_inline __u64 ebpf_user_stack_at_entry(struct pt_regs *ctx, struct ebpf_ustack *s)
{
	struct ebpf__walk w = {
		.s = s,
		.sp = PT_REGS_SP(ctx),
		.fp = PT_REGS_FP(ctx),
		.low = PT_REGS_SP(ctx),
		.hash = EBPF_FNV_OFFSET,
	};
	__u64 ret = 0;

	s->ips[0] = PT_REGS_IP(ctx);
	s->nr = 1;
	w.hash = (w.hash ^ s->ips[0]) * EBPF_FNV_PRIME;
	if (!bpf_probe_read_user(&ret, sizeof(ret), (void *)PT_REGS_SP(ctx)) && ret) {
		s->ips[1] = ret;
		s->nr = 2;
		w.hash = (w.hash ^ ret) * EBPF_FNV_PRIME;
	}
	/* Frames after it go from index nr - 1 + 1: shift the walk by one. */
	bpf_loop(EBPF_USTACK_DEPTH - 2, ebpf__walk_frame_shifted, &w, 0);
	return w.hash;
}

/* bpf_get_stack(ctx, ..., flags) into `s` (flags 0: the kernel stack,
 * BPF_F_USER_STACK: the kernel's walk of the user stack). Returns what
 * bpf_get_stack() returned: above 0, `s` and *hash hold the stack and the
 * FNV-1a hash of its frames; otherwise there is none (0, or an error). */
static __always_inline long ebpf_get_stack(void *ctx, struct ebpf_ustack *s, __u64 flags, __u64 *hash)
{
	struct ebpf__walk w = { .s = s, .hash = EBPF_FNV_OFFSET };
	long n = bpf_get_stack(ctx, s->ips, sizeof(s->ips), flags);

	if (n <= 0)
		return n;
	s->nr = n / sizeof(__u64);
	bpf_loop(EBPF_USTACK_DEPTH, ebpf__hash_frame, &w, 0);
	*hash = w.hash;
	return n;
}

/* Stores the stack in `map` (once) and returns its id: the hash of its frames
 * and depth, moved up to `first` or above (ids below it mean what the tool
 * says: "no stack", "skipped"...). 0 when the map is full. */
static __always_inline __u64 ebpf_stack_store(void *map, struct ebpf_ustack *s, __u64 hash, __u64 first)
{
	__u64 id = (hash ^ s->nr) * EBPF_FNV_PRIME;

	if (id < first)
		id += first;
	if (bpf_map_lookup_elem(map, &id))
		return id;
	/* New: another CPU may store the same one at this moment (EEXIST). */
	if (bpf_map_update_elem(map, &id, s, BPF_NOEXIST) && !bpf_map_lookup_elem(map, &id))
		return 0;
	return id;
}

/* Stores the stack in `map` (once) and returns its id, never 0. 0 when the
 * map is full (counted in *dropped). */
static __always_inline __u64 ebpf_ustack_id(void *map, struct ebpf_ustack *s, __u64 hash, __u64 *dropped)
{
	__u64 id = ebpf_stack_store(map, s, hash, 1);

	if (!id)
		__sync_fetch_and_add(dropped, 1);
	return id;
}

#endif /* __EBPF_USTACK_H */
