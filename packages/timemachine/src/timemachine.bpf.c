// SPDX-License-Identifier: GPL-2.0
//
// timemachine: a flight recorder for one process. Everything that explains a
// crash (system calls, file operations, allocations and frees, calls of
// chosen functions, signals) goes out as one stream of small records, and
// user space keeps the last N seconds of it in memory, like an aircraft's
// flight recorder or Go's and Java's: a moving window, written out when
// something goes wrong. The crash itself is caught as the kernel delivers the
// fatal signal, with the address that faulted and the stack that faulted.
//
// A lesson in recording cheaply. Every hook here fires for the whole
// machine (a tracepoint does not know which process you care about), so the
// first thing each program does is compare the thread group id with the
// target's and return: a few nanoseconds for everyone else. For the target,
// one record of 72 bytes per event, written straight into the ring buffer
// (ebpf_reserve: no copy), no map update on the hot path except a per-thread
// slot in task storage, which is a pointer hop from the task, not a hash
// lookup. User space copies records as they come into its window: nothing is
// decoded until someone asks for the window.
//
// Hooks:
//   tp_btf sys_enter / sys_exit      → SYSCALL, FILE (with the path) at the exit,
//                                      with the arguments saved at the entry
//   uprobe malloc calloc realloc mmap (+ uretprobe)   → ALLOC, with its stack
//   uprobe free munmap               → FREE, with its stack
//   uprobe on each function of -f    → FUNC (the attach cookie says which)
//   tp_btf signal_deliver            → SIGNAL, or CRASH for a fatal signal with
//                                      no handler: si_addr and the user stack
//   tp_btf sched_process_exit        → EXIT of the process, with its exit code
#include "ebpf/common.h"
#include "ebpf/entry_gate.h"
#include "ebpf/output.h"
#include "ebpf/siginfo.h"
#define EBPF_USTACK_DEPTH 48
#include "ebpf/ustack.h"

/* ---- Load-time config ---- */
const volatile __u32 targ_tgid = 0;      /* the recorded process */
const volatile bool alloc_stacks = true; /* walk the user stack of each alloc and free */

/* ---- Records ---- */

#define PATH_MAX_BYTES 256 /* FILE: the path, truncated to this */
#define CRASH_FRAMES EBPF_USTACK_DEPTH /* CRASH: user frames of the faulting thread */
#define SCAN_WORDS 1024    /* CRASH: 8 KiB of its stack scanned for return addresses ... */
#define SCAN_FRAMES 32     /* ... keeping this many */

enum ev_type {
	EV_SYSCALL = 1,
	EV_FILE = 2,
	EV_ALLOC = 3,
	EV_FREE = 4,
	EV_FUNC = 5,
	EV_SIGNAL = 6,
	EV_CRASH = 7,
	EV_EXIT = 8,
};

enum alloc_kind { AK_MALLOC = 1, AK_CALLOC = 2, AK_REALLOC = 3, AK_MMAP = 4, AK_FREE = 5, AK_MUNMAP = 6 };

/* One record. Fixed fields, then a tail whose length the type says:
 * FILE the path (a C string), CRASH the user stack (u64 addresses). */
struct event {
	__u64 ts;         /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 pid;
	__u32 tid;
	__u32 type;       /* enum ev_type */
	__s32 nr;         /* SYSCALL/FILE: syscall number; ALLOC/FREE: enum alloc_kind;
			   * FUNC: index of the function; SIGNAL/CRASH: the signal;
			   * EXIT: the exit code (status << 8 | signal, as wait() has it) */
	__u64 a0;         /* SYSCALL/FILE: arguments 0-2. ALLOC: size, address, the
			   * old address (realloc). FREE: address. FUNC: the address.
			   * SIGNAL/CRASH: si_addr (a fault the kernel raised) or the
			   * sender's pid (a signal a process sent: see ebpf/siginfo.h),
			   * si_code, 1 when fatal */
	__u64 a1;
	__u64 a2;
	__s64 ret;        /* SYSCALL/FILE: the return value */
	__u64 dur;        /* SYSCALL/FILE: ns from entry to exit */
	__u64 stack_id;   /* ALLOC/FREE: key in `stacks` (0: none) */
	__u8 tail[];
};
EBPF_EXPORT(event);

/* What a thread is in the middle of: a system call, an allocator call. */
struct slot {
	__u64 sys_ts;     /* 0: not in a system call we saw start */
	__u64 args[3];
	__s64 sys_nr;
	__u64 alloc_sp;   /* stack pointer at the allocator's entry; 0: none */
	__u64 alloc_size;
	__u64 alloc_old;  /* realloc: the block given back */
	__u32 alloc_kind;
	__u32 pad;
	char exec_path[PATH_MAX_BYTES]; /* execve: read at the entry (the old memory is gone at the exit) */
	__u64 scanned[SCAN_FRAMES];     /* CRASH: return addresses found by scanning the stack */
	struct ebpf_ustack stack; /* scratch for the stack walk */
};

/* ---- Maps ---- */

EBPF_RINGBUF(events, 8 << 20); /* user space sizes it (--ring-bytes) */

/* Per-thread state lives with the thread: task storage is found from the
 * task pointer (no hashing) and goes away when the thread does. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct slot);
} slots SEC(".maps");

EBPF_USTACK_MAP(stacks, 65536);

__u64 stacks_dropped = 0; /* allocations or frees with no stack: `stacks` was full */

/* ---- Helpers ---- */

static __always_inline bool is_target(void)
{
	return ebpf_current_tgid() == targ_tgid;
}

static __always_inline struct slot *my_slot(void)
{
	return bpf_task_storage_get(&slots, bpf_get_current_task_btf(), 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
}

static __always_inline void fill(struct event *e, __u32 type, __s32 nr)
{
	__u64 id = bpf_get_current_pid_tgid();

	e->ts = bpf_ktime_get_ns();
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->type = type;
	e->nr = nr;
	e->a0 = e->a1 = e->a2 = 0;
	e->ret = 0;
	e->dur = 0;
	e->stack_id = 0;
}

/* The argument that names a file, for the system calls that take one (x86-64
 * numbers: arch/x86/entry/syscalls/syscall_64.tbl); -1 for the others. */
static __always_inline int path_arg(long nr)
{
#if defined(__TARGET_ARCH_x86)
	switch (nr) {
	case 2:   /* open */
	case 4:   /* stat */
	case 6:   /* lstat */
	case 21:  /* access */
	case 59:  /* execve */
	case 76:  /* truncate */
	case 82:  /* rename */
	case 83:  /* mkdir */
	case 84:  /* rmdir */
	case 85:  /* creat */
	case 87:  /* unlink */
		return 0;
	case 257: /* openat */
	case 258: /* mkdirat */
	case 262: /* newfstatat */
	case 263: /* unlinkat */
	case 264: /* renameat */
	case 269: /* faccessat */
	case 316: /* renameat2 */
	case 332: /* statx */
	case 437: /* openat2 */
	case 439: /* faccessat2 */
		return 1;
	}
#endif
	return -1;
}

/* ---- System calls ----
 *
 * raw tracepoints on every system call's entry and exit (one hook for all,
 * not one per call as the syscalls:sys_enter_* tracepoints): tp_btf gives
 * typed arguments, so the user registers are read with plain loads. The
 * record goes out at the exit, with the entry's arguments (kept in the slot)
 * and the return value: one record per call. exit and exit_group never
 * return, so they go out at their entry. */

SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter, struct pt_regs *regs, long id)
{
	struct slot *s;

	if (!is_target())
		return 0;
	if (id == 60 /* exit */ || id == 231 /* exit_group */) {
		struct event *e = ebpf_reserve(events, sizeof(*e));

		if (!e)
			return 0;
		fill(e, EV_SYSCALL, id);
		e->a0 = PT_REGS_PARM1_CORE_SYSCALL(regs);
		ebpf_submit(events, e);
		return 0;
	}
	if (id == 335 || id == 336)
		return 0; /* uretprobe and uprobe: the kernel's own trampolines for our probes */
	s = my_slot();
	if (!s)
		return 0;
	if (id == 59 /* execve */ && bpf_probe_read_user_str(s->exec_path, sizeof(s->exec_path), (void *)PT_REGS_PARM1_CORE_SYSCALL(regs)) < 0)
		s->exec_path[0] = 0;
	s->sys_nr = id;
	s->args[0] = PT_REGS_PARM1_CORE_SYSCALL(regs);
	s->args[1] = PT_REGS_PARM2_CORE_SYSCALL(regs);
	s->args[2] = PT_REGS_PARM3_CORE_SYSCALL(regs);
	s->sys_ts = bpf_ktime_get_ns();
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit, struct pt_regs *regs, long ret)
{
	struct event *e;
	struct slot *s;
	int p;

	if (!is_target())
		return 0;
	s = bpf_task_storage_get(&slots, bpf_get_current_task_btf(), 0, 0);
	if (!s || !s->sys_ts)
		return 0; /* its entry came before we attached */
	p = path_arg(s->sys_nr);
	if (p >= 0) {
		e = ebpf_reserve(events, sizeof(*e) + PATH_MAX_BYTES);
		if (!e)
			goto done;
		fill(e, EV_FILE, s->sys_nr);
		/* The path is still in the caller's memory at the exit. A fault
		 * (paged out) leaves it empty: no sleeping in this program. */
		if (s->sys_nr == 59)
			bpf_probe_read_kernel_str(e->tail, PATH_MAX_BYTES, s->exec_path);
		else if (bpf_probe_read_user_str(e->tail, PATH_MAX_BYTES, (void *)s->args[p & 1]) < 0)
			e->tail[0] = 0;
	} else {
		e = ebpf_reserve(events, sizeof(*e));
		if (!e)
			goto done;
		fill(e, EV_SYSCALL, s->sys_nr);
	}
	e->a0 = s->args[0];
	e->a1 = s->args[1];
	e->a2 = s->args[2];
	e->ret = ret;
	e->dur = e->ts - s->sys_ts;
	ebpf_submit(events, e);
done:
	s->sys_ts = 0;
	return 0;
}

/* ---- Allocations ----
 *
 * An allocation is seen twice: at entry (the size is an argument) and at
 * return (the address is the return value); the slot carries the size across.
 * glibc's allocator calls itself (realloc(NULL) calls malloc, a big malloc
 * calls mmap): an entry while the thread is already inside a probed call
 * (its stack pointer is below the outer call's) is the allocator's own
 * business and is ignored, and so is its return. memleak explains the same
 * trick at length. */

static __always_inline int alloc_enter(struct pt_regs *ctx, __u32 kind, __u64 size, __u64 old)
{
	__u64 sp = PT_REGS_SP(ctx);
	struct slot *s;

	if (!is_target())
		return 0;
	s = my_slot();
	if (!s || (s->alloc_sp && sp < s->alloc_sp))
		return 0; /* nested */
	s->alloc_sp = sp;
	s->alloc_size = size;
	s->alloc_old = old;
	s->alloc_kind = kind;
	return 0;
}

/* At a return the frames are the caller's, complete; at an entry (free) the
 * caller's return address is still at the top of the stack. */
static __always_inline __u64 stack_of(struct pt_regs *ctx, struct slot *s, bool entry)
{
	__u64 hash;

	if (!alloc_stacks)
		return 0;
	hash = entry ? ebpf_user_stack_at_entry(ctx, &s->stack) : ebpf_user_stack(ctx, &s->stack);
	return ebpf_ustack_id(&stacks, &s->stack, hash, &stacks_dropped);
}

static __always_inline int alloc_exit(struct pt_regs *ctx)
{
	struct event *e;
	struct slot *s;
	__u64 addr = PT_REGS_RC(ctx);

	if (!is_target())
		return 0;
	s = bpf_task_storage_get(&slots, bpf_get_current_task_btf(), 0, 0);
	/* The return of the outermost call: the stack is back above its entry. */
	if (!s || !s->alloc_sp || PT_REGS_SP(ctx) <= s->alloc_sp)
		return 0;
	s->alloc_sp = 0;
	e = ebpf_reserve(events, sizeof(*e));
	if (!e)
		return 0;
	fill(e, EV_ALLOC, s->alloc_kind);
	if (s->alloc_kind == AK_MMAP && addr == ~0ULL)
		addr = 0; /* MAP_FAILED */
	e->a0 = s->alloc_size;
	e->a1 = addr;
	e->a2 = s->alloc_old;
	e->stack_id = stack_of(ctx, s, false);
	ebpf_submit(events, e);
	return 0;
}

static __always_inline int release(struct pt_regs *ctx, __u32 kind, __u64 addr, __u64 size)
{
	struct event *e;
	struct slot *s;

	if (!is_target() || !addr)
		return 0;
	s = my_slot();
	if (!s || s->alloc_sp)
		return 0; /* inside the allocator: its own business */
	e = ebpf_reserve(events, sizeof(*e));
	if (!e)
		return 0;
	fill(e, EV_FREE, kind);
	e->a0 = addr;
	e->a1 = size;
	e->stack_id = stack_of(ctx, s, true);
	ebpf_submit(events, e);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(malloc_enter, size_t size)
{
	return alloc_enter(ctx, AK_MALLOC, size, 0);
}

SEC("uprobe")
int BPF_KPROBE(calloc_enter, size_t nmemb, size_t size)
{
	return alloc_enter(ctx, AK_CALLOC, nmemb * size, 0);
}

SEC("uprobe")
int BPF_KPROBE(realloc_enter, void *ptr, size_t size)
{
	return alloc_enter(ctx, AK_REALLOC, size, (__u64)ptr);
}

SEC("uprobe")
int BPF_KPROBE(mmap_enter, void *addr, size_t length)
{
	return alloc_enter(ctx, AK_MMAP, length, 0);
}

/* One return program for all four: the slot says which call it was. */
SEC("uretprobe")
int alloc_return(struct pt_regs *ctx)
{
	return alloc_exit(ctx);
}

SEC("uprobe")
int BPF_KPROBE(free_enter, void *ptr)
{
	return release(ctx, AK_FREE, (__u64)ptr, 0);
}

SEC("uprobe")
int BPF_KPROBE(munmap_enter, void *addr, size_t length)
{
	return release(ctx, AK_MUNMAP, (__u64)addr, length);
}

/* ---- Function entries (-f) ----
 *
 * One program attached to many functions with a uprobe_multi link; the
 * attach cookie, set per function by user space, says which one fired. */
SEC("uprobe") /* loaded as a uprobe_multi program: user space says so (setUprobeMulti) */
int func_entry(struct pt_regs *ctx)
{
	struct event *e;

	if (!is_target())
		return 0;
	e = ebpf_reserve(events, sizeof(*e));
	if (!e)
		return 0;
	fill(e, EV_FUNC, (__s32)bpf_get_attach_cookie(ctx));
	e->a0 = PT_REGS_IP(ctx);
	ebpf_submit(events, e);
	return 0;
}

/* ---- The start of a command (record -- CMD) ----
 *
 * A crash's stack is symbolized from the process's mappings, read from
 * /proc while it lives; a short program may crash and be gone before user
 * space has read them. So the command is stopped once, at its ELF entry
 * point (every library mapped, none of its code run), while user space reads
 * them; then it goes on. */
EBPF_ENTRY_GATE(is_target)

/* ---- Signals and the crash ----
 *
 * signal_deliver fires in the thread that takes the signal, as the kernel
 * dequeues it on the way back to user space, before it looks at the
 * handler: so for a fault it runs in the faulting thread, with that thread's
 * user registers (the stack below starts at the faulting instruction). The
 * siginfo is typed through BTF: si_addr is _sifields._sigfault._addr. A
 * signal is fatal here when its default action kills with a core dump and
 * the process has no handler (SIG_DFL): the process is about to die. */

static __always_inline bool dumps_core(int sig)
{
	switch (sig) {
	case 3:  /* SIGQUIT */
	case 4:  /* SIGILL */
	case 5:  /* SIGTRAP */
	case 6:  /* SIGABRT */
	case 7:  /* SIGBUS */
	case 8:  /* SIGFPE */
	case 11: /* SIGSEGV */
	case 31: /* SIGSYS */
		return true;
	}
	return false;
}

/* When the frame-pointer walk stops short (code without frame pointers,
 * such as Debian's libc under abort()), the stack is scanned: every word
 * above the stack pointer that points just after a call instruction is
 * probably a return address (the heuristic debuggers call "found by
 * scanning"). Calls: e8 rel32 (5 bytes), and ff /2 with a register, a
 * register and disp8, or disp32 (2, 3 and 6 bytes; 7 with a SIB byte). */
struct scan {
	__u64 sp;
	struct slot *s;
	__u32 n;
};

static __always_inline bool call_before(const __u8 *b)
{
	return b[3] == 0xe8 ||
	       (b[6] == 0xff && (b[7] & 0xf8) == 0xd0) ||  /* call *%reg */
	       (b[5] == 0xff && (b[6] & 0x38) == 0x10) ||  /* call *disp8(%reg) */
	       (b[2] == 0xff && (b[3] & 0x38) == 0x10) ||  /* call *disp32(%reg) */
	       (b[1] == 0xff && (b[2] & 0x38) == 0x10);    /* ... with a SIB byte */
}

static long scan_word(__u64 i, void *data)
{
	struct scan *sc = data;
	__u8 before[8];
	__u64 w;
	__u32 n = sc->n;

	if (n >= SCAN_FRAMES)
		return 1;
	if (bpf_probe_read_user(&w, sizeof(w), (void *)(sc->sp + i * 8)))
		return 1; /* the top of the stack */
	if (w < 4096 || w >> 47 || bpf_probe_read_user(before, sizeof(before), (void *)(w - 8)))
		return 0; /* not a user code address */
	if (call_before(before)) {
		sc->s->scanned[n & (SCAN_FRAMES - 1)] = w;
		sc->n = n + 1;
	}
	return 0;
}

SEC("tp_btf/signal_deliver")
int BPF_PROG(signal_deliver, int sig, struct kernel_siginfo *info, struct k_sigaction *ka)
{
	struct slot *s;
	struct event *e;
	bool fatal;
	int code;

	if (!is_target())
		return 0;
	fatal = dumps_core(sig) && ka && ka->sa.sa_handler == (void *)0 /* SIG_DFL */;
	e = ebpf_reserve(events, sizeof(*e) + (CRASH_FRAMES + SCAN_FRAMES) * sizeof(__u64));
	if (!e)
		return 0;
	fill(e, fatal ? EV_CRASH : EV_SIGNAL, sig);
	/* The siginfo may be SEND_SIG_NOINFO or SEND_SIG_PRIV, the small
	 * constants 0 and 1, not pointers: read it with BPF_CORE_READ (a probe
	 * read, which fails safely there) rather than plain loads. */
	code = BPF_CORE_READ(info, si_code);
	e->a1 = (__u32)code;
	/* A SIGSEGV is not always a fault: kill(pid, SIGSEGV) sends one too,
	 * and then the union slot of si_addr holds the sender's pid and uid. */
	if (ebpf_si_sent(code)) {
		if (ebpf_si_has_sender(code))
			e->a0 = (__u32)BPF_CORE_READ(info, _sifields._kill._pid);
	} else if (sig == 4 || sig == 7 || sig == 8 || sig == 11) {
		e->a0 = (__u64)BPF_CORE_READ(info, _sifields._sigfault._addr);
	}
	e->a2 = fatal;
	e->stack_id = 0;
	/* The faulting thread's user stack, from its saved user registers
	 * (bpf_task_pt_regs). Walked by hand rather than with bpf_get_stack():
	 * Debian's libc has no frame pointers, and the kernel's walk goes on
	 * through whatever %rbp holds (abort() gave 60 frames of garbage);
	 * ebpf_user_stack() stops at the first thing that cannot be a frame. */
	if (fatal && (s = my_slot())) {
		struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());

		ebpf_user_stack(regs, &s->stack);
		bpf_probe_read_kernel(e->tail, sizeof(s->stack.ips), s->stack.ips);
		e->dur = s->stack.nr; /* CRASH: frames walked, in the tail */
		if (s->stack.nr < 3) {
			struct scan sc = { .sp = regs->sp, .s = s };

			bpf_loop(SCAN_WORDS, scan_word, &sc, 0);
			bpf_probe_read_kernel(e->tail + sizeof(s->stack.ips), sizeof(s->scanned), s->scanned);
			e->ret = sc.n; /* CRASH: frames scanned, after them */
		}
	}
	ebpf_submit(events, e);
	return 0;
}

/* The process's end: the main thread's exit code, which for a death by
 * signal holds the signal in its low 7 bits (0x80: a core was dumped). */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(sched_process_exit, struct task_struct *p)
{
	struct event *e;

	if (p->tgid != targ_tgid || p->pid != p->tgid)
		return 0;
	e = ebpf_reserve(events, sizeof(*e));
	if (!e)
		return 0;
	fill(e, EV_EXIT, p->exit_code);
	ebpf_submit(events, e);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
