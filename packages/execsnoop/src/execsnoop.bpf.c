// SPDX-License-Identifier: GPL-2.0
//
// execsnoop: trace every exec() on the system, with its complete arguments.
//
// A lesson in reading user memory at the right moment.
//
// The classic tools copy the arguments when execve() is *entered*: they follow
// the argv pointers the caller passed and read each string. That has two
// problems. Those pages may not be resident yet (a BPF program cannot wait for
// a page fault, so the read fails and the arguments come out empty), and the
// copy must fit a fixed budget (BCC: 20 arguments of 128 bytes).
//
// This program waits until execve() *returns*. When it succeeded, the current
// task is already running the new program, and the kernel has just copied
// argv onto the new program's stack, between mm->arg_start and mm->arg_end, as
// one block of NUL-terminated strings. The kernel wrote those pages a moment
// ago, so they are resident, and one bpf_probe_read_user() copies them all.
// The file name the caller passed is there too: the kernel also copied it onto
// the new stack and left its address in the auxiliary vector (AT_EXECFN).
//
// When execve() fails, the old program is still running and its memory is
// intact, so the argv pointers saved at entry are read at exit instead.
//
// Hooks (syscall tracepoints only; no kprobes):
//   syscalls:sys_enter_execve, sys_enter_execveat  save filename/argv pointers
//   syscalls:sys_exit_execve,  sys_exit_execveat   build and send the event
#include "ebpf/common.h"
#include "ebpf/output.h"
#include "ebpf/container.h"   /* --cgroup, --cgroupmap, --mntnsmap: ebpf_container_allowed() */
#include "ebpf/cgroup_id.h"   /* the event's cgroup v2 id */

/* ---- Load-time config: set by user space before load (const volatile = .rodata),
 * so the verifier sees them as constants and drops the branches they disable. */
const volatile bool filter_uid = false;
const volatile __u32 targ_uid = 0;
const volatile bool filter_ppid = false;
const volatile __u32 targ_ppid = 0;
const volatile bool include_failed = false;

#define FILENAME_MAX_LEN 4096 /* PATH_MAX */
#define ARGS_MAX_LEN 32768    /* argument bytes captured per exec (a power of 2) */
#define MAX_ENTRY_ARGC 512    /* argv pointers counted at entry */
#define MAX_FAILED_ARGS 128   /* strings read for a failed exec */
#define AT_EXECFN 31          /* auxv entry: address of the file name on the new stack */

/* flags */
#define EV_ARGS_TRUNCATED 1   /* more argument bytes than ARGS_MAX_LEN */
#define EV_FILENAME_FAULT 2   /* the file name could not be read */
#define EV_ARGS_FAULT 4       /* the arguments could not be read */

/* What user space receives: a fixed header, then `filename_len` bytes of file
 * name and `args_len` bytes of NUL-separated argv strings (argv[0] first). */
struct event {
	__u64 ts;          /* bpf_ktime_get_ns() at exec return */
	EBPF_CGROUP_ID_FIELD; /* the task's cgroup v2 id (an exec does not change it) */
	__u32 pid;         /* thread-group id: what ps calls the PID */
	__u32 ppid;        /* parent's thread-group id */
	__u32 uid;
	__s32 retval;      /* 0, or -errno */
	__u32 argc;        /* strings in the argument block */
	__u32 skip;        /* strings the kernel put before argv[1] besides argv[0] (#! interpreter) */
	__u32 filename_len;
	__u32 args_len;
	__u32 flags;
	char comm[16];     /* the new program's name; the caller's for a failed exec */
	__u8 data[];
};
EBPF_EXPORT(event);

/* ---- Maps ---- */

/* What sys_enter saw, kept until sys_exit. Keyed by thread-group id: when a
 * non-leader thread execs, it takes over the leader's PID, so its thread id
 * at exit differs from the one at entry; the tgid does not. LRU so entries of
 * execs we never see return (the tool started mid-call) cannot pile up. */
struct exec_start {
	const char *filename;
	const char *const *argv;
	__u32 argc;        /* argv entries counted at entry (0: unknown) */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct exec_start);
} starts SEC(".maps");

/* An event is too big for the 512-byte BPF stack, so it is built in a scratch
 * buffer, one per CPU, and copied to the ring with only the bytes used. Twice
 * the data size, so a masked offset plus a maximal read always stays inside.
 * (A PERCPU_ARRAY value may not exceed 32 KiB, so this is a plain array
 * indexed by CPU number; user space sets max_entries to the CPU count.) */
struct scratch {
	__u8 bytes[sizeof(struct event) + 2 * (FILENAME_MAX_LEN + ARGS_MAX_LEN)];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* set to the number of possible CPUs before load */
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

/* The ring buffer events go through (and its drop counter, events_drops). */
EBPF_RINGBUF(events, 256 * 1024); /* user space may resize it before load */

/* ---- Helpers ---- */

static __always_inline bool wanted(struct task_struct *task)
{
	if (filter_uid && ebpf_current_uid() != targ_uid)
		return false;
	if (filter_ppid && BPF_CORE_READ(task, real_parent, tgid) != targ_ppid)
		return false;
	if (!ebpf_container_allowed())
		return false;
	return true;
}

/* Counts argv entries up to the NULL that ends the array. 0 means unknown:
 * too many to count, or part of the array is not resident (a page the kernel
 * will fault in, but a BPF program cannot). A partial count must not be
 * returned: sys_exit takes argc - count as the number of strings a #!
 * interpreter inserted, and would drop that many real arguments.
 *
 * The loops here run under bpf_loop() (kernel 5.17+) rather than as plain
 * bounded loops: the verifier checks a bpf_loop() callback once, whereas it
 * walks a plain loop's body once per iteration. That is most of what loading
 * this tool used to cost (tens of milliseconds before its header appears). */
struct count_ctx {
	const char *const *argv;
	__u32 argc;        /* result; 0: unknown */
};

static long count_one(__u32 i, void *data)
{
	struct count_ctx *c = data;
	const char *arg;

	if (bpf_probe_read_user(&arg, sizeof(arg), &c->argv[i]))
		return 1; /* not resident: unknown (argc stays 0) */
	if (!arg) {
		c->argc = i;
		return 1;
	}
	return 0; /* next; too many to count leaves argc 0: unknown */
}

static __always_inline __u32 count_args(const char *const *argv)
{
	struct count_ctx c = { .argv = argv };

	bpf_loop(MAX_ENTRY_ARGC, count_one, &c, 0);
	return c.argc;
}

static __always_inline int on_enter(const char *filename, const char *const *argv)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct exec_start start = {};
	__u32 tgid = ebpf_current_tgid();

	if (!wanted(task))
		return 0;
	/* Only pointers here: the strings are read at exit, from wherever they
	 * are certain to be. */
	start.filename = filename;
	start.argv = argv;
	start.argc = count_args(argv);
	bpf_map_update_elem(&starts, &tgid, &start, BPF_ANY);
	return 0;
}

/* Success: the new program's stack holds the file name and the arguments. */
static __always_inline void read_new_image(struct event *e, struct exec_start *start)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	unsigned long arg_start = BPF_CORE_READ(mm, arg_start);
	unsigned long arg_end = BPF_CORE_READ(mm, arg_end);
	unsigned long execfn = 0, start_stack, argc = 0;
	__u64 len;
	long n;
	int i;

	/* mm->saved_auxv holds the auxiliary vector as (type, value) pairs. */
	for (i = 0; i < 24; i++) {
		unsigned long type = BPF_CORE_READ(mm, saved_auxv[2 * i]);

		if (type == 0)
			break;
		if (type == AT_EXECFN) {
			execfn = BPF_CORE_READ(mm, saved_auxv[2 * i + 1]);
			break;
		}
	}
	n = execfn ? bpf_probe_read_user_str(e->data, FILENAME_MAX_LEN - 1, (void *)execfn) : -1;
	if (n <= 0) {
		e->data[0] = 0;
		n = 1;
		e->flags |= EV_FILENAME_FAULT;
	}
	e->filename_len = n;

	/* The new stack starts with argc: the kernel's count, interpreter included. */
	start_stack = BPF_CORE_READ(mm, start_stack);
	bpf_probe_read_user(&argc, sizeof(argc), (void *)start_stack);
	e->argc = argc;
	if (start->argc && argc > start->argc)
		e->skip = argc - start->argc;

	len = arg_end - arg_start;
	if (len > ARGS_MAX_LEN) {
		len = ARGS_MAX_LEN;
		e->flags |= EV_ARGS_TRUNCATED;
	}
	/* Bounds the verifier can follow: offset < FILENAME_MAX_LEN, len <= ARGS_MAX_LEN. */
	n = e->filename_len & (FILENAME_MAX_LEN - 1);
	if (bpf_probe_read_user(e->data + n, len & (2 * ARGS_MAX_LEN - 1), (void *)arg_start)) {
		len = 0;
		e->flags |= EV_ARGS_FAULT;
	}
	e->args_len = len;
}

/* Failure: the caller's memory is intact; follow the pointers saved at entry. */
struct caller_args_ctx {
	struct event *e;
	const char *const *argv;
	__u32 argc;        /* counted at entry; 0: unknown, read up to the NULL */
	__u32 fn_len;      /* the arguments start after the file name */
	__u32 off;         /* argument bytes so far */
	bool done;         /* stopped before MAX_FAILED_ARGS strings */
};

static long read_caller_arg(__u32 i, void *data)
{
	struct caller_args_ctx *c = data;
	struct event *e = c->e;
	const char *arg = NULL;
	long n;

	if (i >= c->argc && c->argc)
		goto done;
	if (bpf_probe_read_user(&arg, sizeof(arg), &c->argv[i]) || !arg)
		goto done;
	if (c->off >= ARGS_MAX_LEN) {
		e->flags |= EV_ARGS_TRUNCATED;
		goto done;
	}
	n = bpf_probe_read_user_str(e->data + (c->fn_len & (FILENAME_MAX_LEN - 1)) + (c->off & (ARGS_MAX_LEN - 1)),
				    ARGS_MAX_LEN, arg);
	if (n <= 0) {
		e->flags |= EV_ARGS_FAULT;
		goto done;
	}
	c->off += n;
	e->argc++;
	return 0;
done:
	c->done = true;
	return 1;
}

static __always_inline void read_caller_args(struct event *e, struct exec_start *start)
{
	struct caller_args_ctx c = { .e = e, .argv = start->argv, .argc = start->argc };
	long n;

	n = bpf_probe_read_user_str(e->data, FILENAME_MAX_LEN - 1, start->filename);
	if (n <= 0) {
		e->data[0] = 0;
		n = 1;
		e->flags |= EV_FILENAME_FAULT;
	}
	c.fn_len = n & (FILENAME_MAX_LEN - 1);
	e->filename_len = c.fn_len;

	bpf_loop(MAX_FAILED_ARGS, read_caller_arg, &c, 0);
	if (!c.done)
		e->flags |= EV_ARGS_TRUNCATED;
	if (c.off > ARGS_MAX_LEN) {
		c.off = ARGS_MAX_LEN;
		e->flags |= EV_ARGS_TRUNCATED;
	}
	e->args_len = c.off;
}

static __always_inline int on_exit(long ret)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 tgid = ebpf_current_tgid(), cpu = bpf_get_smp_processor_id();
	struct exec_start *start;
	struct scratch *s;
	struct event *e;
	__u64 size;

	start = bpf_map_lookup_elem(&starts, &tgid);
	if (!start)
		return 0;
	if (ret < 0 && !include_failed)
		goto cleanup;
	s = bpf_map_lookup_elem(&scratch, &cpu);
	if (!s)
		goto cleanup;
	e = (struct event *)s->bytes;

	e->ts = bpf_ktime_get_ns();
	e->cgroup_id = ebpf_current_cgroup_id();
	e->pid = tgid;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->uid = ebpf_current_uid();
	e->retval = ret;
	e->argc = 0;
	e->skip = 0;
	e->flags = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));

	if (ret == 0)
		read_new_image(e, start);
	else
		read_caller_args(e, start);

	/* Send only the bytes used: header + file name + arguments. */
	size = offsetof(struct event, data) + (e->filename_len & (FILENAME_MAX_LEN - 1)) +
	       (e->args_len & (2 * ARGS_MAX_LEN - 1));
	/* The compiler can prove this check redundant and drop it, but the
	 * verifier's bounds on a sum are looser than the compiler's: barrier_var()
	 * keeps the check in the program so the verifier sees size <= sizeof(*s). */
	barrier_var(size);
	if (size > sizeof(*s))
		size = sizeof(*s);
	ebpf_output(events, s, size);
cleanup:
	bpf_map_delete_elem(&starts, &tgid);
	return 0;
}

/* ---- Entry points, one per hook ---- */

SEC("tracepoint/syscalls/sys_enter_execve")
int sys_enter_execve(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter((const char *)ctx->args[0], (const char *const *)ctx->args[1]);
}

/* execveat(dirfd, pathname, argv, envp, flags): what fexecve() uses. */
SEC("tracepoint/syscalls/sys_enter_execveat")
int sys_enter_execveat(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter((const char *)ctx->args[1], (const char *const *)ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_execve")
int sys_exit_execve(struct trace_event_raw_sys_exit *ctx)
{
	return on_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_execveat")
int sys_exit_execveat(struct trace_event_raw_sys_exit *ctx)
{
	return on_exit(ctx->ret);
}

char LICENSE[] SEC("license") = "GPL";
