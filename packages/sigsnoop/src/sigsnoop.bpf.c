// SPDX-License-Identifier: GPL-2.0
//
// sigsnoop: trace signals. Who sent which signal to whom, and what became of it.
//
// A lesson in joining two views of one event without counting it twice.
//
// A signal is born in one place in the kernel: __send_signal_locked() (and
// send_sigqueue() for POSIX timers) fire the tracepoint signal:signal_generate
// for every signal generated, whoever caused it: a process calling kill(), or
// the kernel itself (SIGSEGV on a bad access, SIGCHLD when a child exits,
// SIGPIPE on a write to a closed pipe, SIGALRM from a timer). Its `result`
// field says what happened to the signal:
//
//   0 delivered   queued for the target (it will run the handler, or die)
//   1 ignored     the target ignores it (SIG_IGN, or the default is to ignore)
//   2 pending     the same standard signal is already pending: merged, lost
//   3 overflow    a real-time signal could not be queued (RLIMIT_SIGPENDING)
//   4 lose_info   delivered, but without its siginfo (out of memory)
//
// libbpf-tools' sigsnoop prints the tracepoint's `errno` field instead, which
// is info->si_errno, 0 for every signal kill() sends: its -x ("failed only")
// never shows anything. Here RESULT is `result`.
//
// But signal_generate only fires when a signal is generated. kill() of a PID
// that does not exist fails (ESRCH) before any signal exists, and so does a
// kill() without permission (EPERM); kill(pid, 0) probes a process without
// sending anything. Those are only visible at the system call, so the kill
// family is traced at its syscall tracepoints too:
//
//   kill(pid, sig)                      tkill(tid, sig)
//   tgkill(tgid, tid, sig)              rt_sigqueueinfo(tgid, sig, info)
//   rt_tgsigqueueinfo(tgid, tid, sig, info)
//   pidfd_send_signal(pidfd, sig, info, flags)
//
// sys_enter saves the target and the signal for the calling thread, and
// sys_exit gives the syscall's return value (0 or -errno).
//
// Now a successful kill() is seen twice: signal_generate fires *inside* the
// syscall, between sys_enter and sys_exit, in the sender's own context. It
// must be reported once. The rule here:
//
//   * A kill-family syscall is reported once, at sys_exit, whatever happened.
//     The signals it generated are folded into that one record: while the
//     thread is inside the syscall, signal_generate adds its result to the
//     thread's saved state instead of sending anything. (kill(-pgid, sig) and
//     kill(-1, sig) generate one signal per process: still one record, with
//     the count, and the first result that was not "delivered".)
//   * Any other signal_generate is a signal the kernel generated: it is
//     reported on its own, at once.
//
// "Inside the syscall" needs care. signal_generate also fires in interrupt
// context (a timer expiring), where the "current" task is just whichever task
// the interrupt happened to land on, possibly a thread in the middle of a
// kill(). So a signal is folded into the syscall only if it is the same signal
// number with the si_code that syscall gives its signals: SI_USER for kill()
// and pidfd_send_signal() without siginfo, SI_TKILL for tkill() and tgkill(),
// the caller's own si_code for the *sigqueueinfo() calls. Timers and devices
// use other codes (SI_TIMER, SI_KERNEL, POLL_*).
//
// Hooks (tracepoints only; no kprobes):
//   syscalls:sys_enter_{kill,tkill,tgkill,rt_sigqueueinfo,rt_tgsigqueueinfo,pidfd_send_signal}
//                                       save the call in the thread's storage
//   signal:signal_generate             fold into the call, or send (kernel's own)
//   syscalls:sys_exit_*                 send the call's one record
#include "ebpf/common.h"
#include "ebpf/output.h"
#include "ebpf/container.h"   /* --cgroup, --cgroupmap, --mntnsmap: ebpf_container_allowed() */
#include "ebpf/cgroup_id.h"   /* the sender's cgroup v2 id */
#include "ebpf/siginfo.h"     /* si_code: SI_USER, SI_TKILL (shared with timemachine) */

/* ---- Load-time config: set by user space before load (const volatile = .rodata),
 * so the verifier sees them as constants and drops the branches they disable. */
const volatile bool filter_pid = false;   /* only signals sent by this process */
const volatile __u32 targ_pid = 0;
const volatile bool filter_tpid = false;  /* only signals to this target */
const volatile __s32 targ_tpid = 0;
const volatile bool filter_sig = false;   /* only this signal number (0 too) */
const volatile __s32 targ_sig = 0;
const volatile bool filter_comm = false;  /* only signals sent by this command name */
const volatile char targ_comm[16] = {};
const volatile bool kill_only = false;    /* -k: only the kill-family syscalls */
const volatile bool failed_only = false;  /* -x: only failures (see failed()) */
const volatile bool failed_is_errno = false; /* killsnoop: failure = the syscall failed */

/* Which syscall sent the signal (event.syscall). */
enum sig_syscall {
	SYS_NONE = 0, /* the kernel generated it */
	SYS_KILL = 1,
	SYS_TKILL = 2,
	SYS_TGKILL = 3,
	SYS_RT_SIGQUEUEINFO = 4,
	SYS_RT_TGSIGQUEUEINFO = 5,
	SYS_PIDFD_SEND_SIGNAL = 6,
};

#define RESULT_NONE (-1) /* no signal was generated */

/* pidfd_send_signal() sentinels for "myself" (6.15+) */
#define PIDFD_SELF_THREAD (-10000)
#define PIDFD_SELF_THREAD_GROUP (-20000)
#define PID_FS_MAGIC 0x50494446 /* the pidfs file system: what a pidfd is a file of */

/* What user space receives: one fixed-size record per signal or syscall. */
struct event {
	__u64 ts;          /* bpf_ktime_get_ns() when sent */
	EBPF_CGROUP_ID_FIELD; /* the sender's cgroup v2 id */
	__u32 pid;         /* sender: the current task's process (tgid) */
	__u32 tid;         /* sender thread */
	__s32 tpid;        /* target as the tools print it (see README) */
	__s32 sig;         /* signal number; 0 for a kill(pid, 0) probe */
	__s32 ret;         /* the syscall's return: 0 or -errno; 0 for the kernel's */
	__s32 result;      /* signal_generate's result (0..4), RESULT_NONE if none */
	__s32 code;        /* si_code of the signal */
	__u32 generated;   /* signals generated: 0 (failed, or signal 0), 1, or more (group kill) */
	__u32 syscall;     /* enum sig_syscall */
	char comm[16];     /* sender's command name */
};
EBPF_EXPORT(event);

/* ---- Maps ---- */

/* A kill-family call in flight: saved by sys_enter, completed by
 * signal_generate, sent by sys_exit. */
struct call {
	__s32 tpid;        /* target as printed */
	__s32 tgid_arg;    /* tgkill/rt_tgsigqueueinfo: the thread group argument */
	__s32 sig;
	__s32 code;        /* the si_code this call gives its signal */
	__s32 result;      /* first result that was not "delivered", else 0 */
	__u32 generated;
	__u32 syscall;
	bool active;       /* between sys_enter and sys_exit */
	bool target_hit;   /* with filter_tpid: a signal went to the target */
};

/* Per-thread state lives in task storage: the kernel keeps one `struct call`
 * per thread, hanging off its task_struct, and frees it when the thread dies.
 * The classic alternative, a hash map keyed by thread id, costs an update
 * and a delete per syscall and keeps the entries of threads that die inside
 * the syscall (killed by their own kill()) until the map fills up. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* required for task storage */
	__type(key, int);
	__type(value, struct call);
} calls SEC(".maps");

/* The ring buffer records go through (and its drop counter, events_drops).
 * A record is 72 bytes plus an 8-byte header. A signal storm is a million
 * signals a second; user space drains the ring every 20 ms and the BPF side
 * wakes it whenever a quarter of the ring is full, so the ring must hold the
 * storm for as long as the reader may be kept from running: 8 MiB is 104 000
 * records, over 100 ms of a storm. User space may resize it before load. */
EBPF_RINGBUF(events, 8 * 1024 * 1024);

/* ---- Helpers ---- */

/* Filters on the sender: the current task. Applied before anything is saved. */
static __always_inline bool sender_wanted(__u32 tgid)
{
	if (filter_pid && tgid != targ_pid)
		return false;
	if (!ebpf_container_allowed())
		return false; /* the sender's container, as BCC's killsnoop */
	if (filter_comm) {
		char comm[16];
		int i;

		bpf_get_current_comm(comm, sizeof(comm));
		for (i = 0; i < 16; i++) {
			if (comm[i] != targ_comm[i])
				return false;
			if (!comm[i])
				break;
		}
	}
	return true;
}

/* -x: what counts as a failure. For sigsnoop, anything but a clean delivery:
 * the syscall failed, or the signal was ignored, already pending, ... For
 * killsnoop (BCC's definition), only a syscall that returned an error. */
static __always_inline bool failed(__s32 ret, __s32 result)
{
	if (ret < 0)
		return true;
	if (failed_is_errno)
		return false;
	return result > 0;
}

/* The process a pidfd refers to: fd → struct file → its pidfs inode, whose
 * i_private is the struct pid; nr of its first level is the PID as seen from
 * the initial PID namespace. 0 if the fd is not a pidfd (the call will fail
 * with EBADF). */
static __always_inline __s32 pidfd_target(int fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct file **fds, *file;
	struct pid *pid;
	unsigned int max;

	if (fd == PIDFD_SELF_THREAD)
		return ebpf_current_tid();
	if (fd == PIDFD_SELF_THREAD_GROUP)
		return ebpf_current_tgid();
	if (fd < 0)
		return 0;
	max = BPF_CORE_READ(task, files, fdt, max_fds);
	if ((unsigned int)fd >= max)
		return 0;
	fds = BPF_CORE_READ(task, files, fdt, fd);
	if (bpf_core_read(&file, sizeof(file), &fds[fd]) || !file)
		return 0;
	if (BPF_CORE_READ(file, f_inode, i_sb, s_magic) != PID_FS_MAGIC)
		return 0;
	pid = BPF_CORE_READ(file, f_inode, i_private);
	return pid ? BPF_CORE_READ(pid, numbers[0].nr) : 0;
}

/* si_code the caller put in its siginfo (the *sigqueueinfo() calls and
 * pidfd_send_signal() with info): int si_signo, si_errno, si_code. */
static __always_inline __s32 user_si_code(const void *uinfo)
{
	__s32 code = SI_USER;

	bpf_probe_read_user(&code, sizeof(code), (const char *)uinfo + 8);
	return code;
}

static __always_inline int on_enter(__u32 syscall, __s32 tpid, __s32 tgid_arg, __s32 sig, __s32 code)
{
	struct call *c;

	if (!sender_wanted(ebpf_current_tgid()))
		return 0;
	if (filter_sig && sig != targ_sig)
		return 0;
	c = bpf_task_storage_get(&calls, bpf_get_current_task_btf(), 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!c)
		return 0;
	c->tpid = tpid;
	c->tgid_arg = tgid_arg;
	c->sig = sig;
	c->code = code;
	c->result = 0;
	c->generated = 0;
	c->syscall = syscall;
	c->target_hit = filter_tpid && (tpid == targ_tpid || (tgid_arg && tgid_arg == targ_tpid));
	c->active = true;
	return 0;
}

static __always_inline void fill_sender(struct event *e)
{
	__u64 id = bpf_get_current_pid_tgid();

	e->ts = bpf_ktime_get_ns();
	e->cgroup_id = ebpf_current_cgroup_id();
	e->pid = id >> 32;
	e->tid = (__u32)id;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
}

static __always_inline int on_exit(long ret)
{
	struct event *e;
	struct call *c;

	c = bpf_task_storage_get(&calls, bpf_get_current_task_btf(), 0, 0);
	if (!c || !c->active)
		return 0; /* filtered out at entry, or the tool started mid-call */
	c->active = false;
	if (filter_tpid && !c->target_hit)
		return 0;
	if (failed_only && !failed(ret, c->generated ? c->result : 0))
		return 0;

	e = ebpf_reserve(events, sizeof(*e));
	if (!e)
		return 0; /* counted in events_drops */
	fill_sender(e);
	e->tpid = c->tpid;
	e->sig = c->sig;
	e->ret = ret;
	e->result = c->generated ? c->result : RESULT_NONE;
	e->code = c->code;
	e->generated = c->generated;
	e->syscall = c->syscall;
	ebpf_submit(events, e);
	return 0;
}

/* ---- Entry points, one per hook ---- */

/* The syscall tracepoints' records carry the raw arguments as longs. */

SEC("tracepoint/syscalls/sys_enter_kill")
int sys_enter_kill(struct trace_event_raw_sys_enter *ctx)
{
	/* kill(pid, sig): pid > 0 a process, 0 my process group, -1 everyone
	 * I may signal, < -1 the process group -pid. */
	return on_enter(SYS_KILL, (__s32)ctx->args[0], 0, (__s32)ctx->args[1], SI_USER);
}

SEC("tracepoint/syscalls/sys_enter_tkill")
int sys_enter_tkill(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter(SYS_TKILL, (__s32)ctx->args[0], 0, (__s32)ctx->args[1], SI_TKILL);
}

/* tgkill(tgid, tid, sig): what raise() and pthread_kill() call. */
SEC("tracepoint/syscalls/sys_enter_tgkill")
int sys_enter_tgkill(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter(SYS_TGKILL, (__s32)ctx->args[1], (__s32)ctx->args[0], (__s32)ctx->args[2], SI_TKILL);
}

/* rt_sigqueueinfo(tgid, sig, info): what sigqueue() calls. */
SEC("tracepoint/syscalls/sys_enter_rt_sigqueueinfo")
int sys_enter_rt_sigqueueinfo(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter(SYS_RT_SIGQUEUEINFO, (__s32)ctx->args[0], 0, (__s32)ctx->args[1],
			user_si_code((const void *)ctx->args[2]));
}

SEC("tracepoint/syscalls/sys_enter_rt_tgsigqueueinfo")
int sys_enter_rt_tgsigqueueinfo(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter(SYS_RT_TGSIGQUEUEINFO, (__s32)ctx->args[1], (__s32)ctx->args[0], (__s32)ctx->args[2],
			user_si_code((const void *)ctx->args[3]));
}

/* pidfd_send_signal(pidfd, sig, info, flags): the target is a file
 * descriptor, which means nothing to the reader; TPID shows its process. */
SEC("tracepoint/syscalls/sys_enter_pidfd_send_signal")
int sys_enter_pidfd_send_signal(struct trace_event_raw_sys_enter *ctx)
{
	const void *uinfo = (const void *)ctx->args[2];

	return on_enter(SYS_PIDFD_SEND_SIGNAL, pidfd_target((int)ctx->args[0]), 0, (__s32)ctx->args[1],
			uinfo ? user_si_code(uinfo) : SI_USER);
}

/* The classic tracepoint's record: sig, errno, code, comm (the target's),
 * pid (the target thread), group, result. */
SEC("tracepoint/signal/signal_generate")
int signal_generate(struct trace_event_raw_signal_generate *ctx)
{
	__u32 tgid = ebpf_current_tgid();
	struct event *e;
	struct call *c;
	__s32 sig = ctx->sig, result = ctx->result, tpid = ctx->pid;

	/* Inside a kill-family call of this thread, for its signal? Fold it in. */
	c = bpf_task_storage_get(&calls, bpf_get_current_task_btf(), 0, 0);
	if (c && c->active && c->sig == sig && c->code == ctx->code) {
		if (c->generated == 0 || c->result == 0)
			c->result = result;
		c->generated++;
		if (filter_tpid && tpid == targ_tpid)
			c->target_hit = true;
		return 0;
	}

	/* The kernel's own signal. The "sender" is whatever task is current:
	 * the faulting thread for SIGSEGV, the exiting child for SIGCHLD. */
	if (kill_only)
		return 0;
	if (!sender_wanted(tgid))
		return 0;
	if (filter_sig && sig != targ_sig)
		return 0;
	if (filter_tpid && tpid != targ_tpid)
		return 0;
	if (failed_only && !failed(0, result))
		return 0;

	e = ebpf_reserve(events, sizeof(*e));
	if (!e)
		return 0;
	fill_sender(e);
	e->tpid = tpid;
	e->sig = sig;
	e->ret = 0;
	e->result = result;
	e->code = ctx->code;
	e->generated = 1;
	e->syscall = SYS_NONE;
	ebpf_submit(events, e);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_kill")
int sys_exit_kill(struct trace_event_raw_sys_exit *ctx)
{
	return on_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_tkill")
int sys_exit_tkill(struct trace_event_raw_sys_exit *ctx)
{
	return on_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_tgkill")
int sys_exit_tgkill(struct trace_event_raw_sys_exit *ctx)
{
	return on_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_rt_sigqueueinfo")
int sys_exit_rt_sigqueueinfo(struct trace_event_raw_sys_exit *ctx)
{
	return on_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_rt_tgsigqueueinfo")
int sys_exit_rt_tgsigqueueinfo(struct trace_event_raw_sys_exit *ctx)
{
	return on_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_pidfd_send_signal")
int sys_exit_pidfd_send_signal(struct trace_event_raw_sys_exit *ctx)
{
	return on_exit(ctx->ret);
}

char LICENSE[] SEC("license") = "GPL";
