// SPDX-License-Identifier: GPL-2.0
//
// opensnoop: trace open(), openat() and openat2(): which process opens which
// file, and what the kernel answered (a file descriptor, or an errno).
//
// A lesson in splitting one system call across two hooks.
//
// A syscall tracepoint fires twice per call: syscalls:sys_enter_<name> sees
// the arguments, syscalls:sys_exit_<name> sees the return value. Neither sees
// both. So sys_enter parks what it needs (the path pointer, the flags, the
// mode) in a slot that belongs to the calling thread, and sys_exit, which runs
// on the same thread once the kernel has done the work, picks it up, adds the
// result and sends one record to user space.
//
// When to read the path string. The path is the caller's memory: sys_enter
// only gets a pointer. This program keeps the pointer and reads the string at
// sys_exit, for two reasons:
//   * at sys_enter the page holding the string may not be resident yet (a
//     string literal in a page never touched, a fresh mmap). A BPF program
//     cannot wait for a page fault, so the read would fail and the event would
//     have no path. By sys_exit the kernel has copied the string itself
//     (getname()), so the page has just been faulted in and the read succeeds;
//   * most filters are settled before the string is read: with -x, a
//     successful open never pays for reading its path.
// The price: between the kernel's copy and ours, another thread of the same
// process could rewrite the buffer. Then we report what the buffer holds at
// return, not what the kernel used. No tool on tracepoints can do better: the
// kernel's own copy (struct filename) is gone by sys_exit.
//
// Hooks (syscall tracepoints only; this kernel has no kprobes, no fentry):
//   syscalls:sys_enter_open, sys_enter_openat, sys_enter_openat2  filter, park arguments
//   syscalls:sys_exit_open,  sys_exit_openat,  sys_exit_openat2   read path, send event
#include "ebpf/common.h"
#include "ebpf/output.h"
#include "ebpf/container.h"   /* --cgroup, --cgroupmap, --mntnsmap: ebpf_container_allowed() */
#include "ebpf/cgroup_id.h"   /* the event's cgroup v2 id */

/* ---- Load-time config: set by user space before load (const volatile = .rodata),
 * so the verifier sees them as constants and drops the branches they disable. */
const volatile __u32 targ_tgid = 0;       /* -p: only this process (0: any) */
const volatile __u32 targ_tid = 0;        /* -t: only this thread (0: any); wins over -p */
const volatile bool filter_uid = false;   /* -u */
const volatile __u32 targ_uid = 0;
const volatile bool failed_only = false;  /* -x */
const volatile bool filter_comm = false;  /* -n: comm contains targ_comm */
const volatile char targ_comm[16] = {};
const volatile __u32 targ_comm_len = 0;
/* -f: keep a call when ANY named flag matches. Access modes (O_RDONLY = 0,
 * O_WRONLY = 1, O_RDWR = 2) are a 2-bit number, not bits: O_RDONLY has no bit
 * to test, so `flags & mask` can never select it. They are compared by value:
 * bit N of filter_accmodes set keeps calls whose (flags & O_ACCMODE) == N.
 * Other flags are bits; a flag made of several bits (O_SYNC includes O_DSYNC,
 * O_TMPFILE includes O_DIRECTORY) matches only when all of them are set. */
const volatile bool filter_flags = false;
const volatile __u32 filter_accmodes = 0;
const volatile __u64 filter_any = 0;      /* single-bit flags, OR-ed */
const volatile __u64 filter_all[4] = {};  /* multi-bit flags, each all-of (0: unused) */
const volatile bool full_path = false;    /* -F: send the directory a relative path starts from */

#define PATH_MAX_LEN 4096  /* PATH_MAX, NUL included: the kernel refuses longer names */
#define NAME_LEN 256       /* NAME_MAX + 1: one directory name and its NUL */
#define DIR_MAX_LEN 4096   /* bytes of directory names sent with -F */
#define MAX_WALK 128       /* steps up the directory tree with -F */
#define AT_FDCWD -100

/* event.status bits */
#define EV_PATH_TRUNCATED 1 /* the path was longer than PATH_MAX (the open failed: ENAMETOOLONG) */
#define EV_PATH_FAULT 2     /* the path could not be read (a bad pointer: the open failed: EFAULT) */
#define EV_DIR_TRUNCATED 4  /* -F: the directory was deeper than MAX_WALK or longer than DIR_MAX_LEN */
#define EV_DIR_FAULT 8      /* -F: the directory could not be found (bad dirfd) or read */
#define EV_DIR 16           /* -F: the directory names follow the path */
#define EV_FULL_PATH 32     /* -F was asked for (absolute paths need no names) */

enum syscall_kind { SYS_OPEN, SYS_OPENAT, SYS_OPENAT2 };

/* What user space receives: this header, then `path_len` bytes of path (no
 * NUL), then with -F `dir_len` bytes of directory names. The names are each
 * NUL-terminated and go from the innermost directory up to (not including)
 * the process's root: user space reverses and joins them. */
struct event {
	__u64 ts;          /* bpf_ktime_get_ns() at syscall exit */
	__u64 flags;       /* open flags; openat2: open_how.flags (64 bits) */
	EBPF_CGROUP_ID_FIELD; /* the caller's cgroup v2 id */
	__u32 pid;         /* thread-group id: what ps calls the PID */
	__u32 tid;
	__u32 uid;
	__s32 ret;         /* file descriptor, or -errno */
	__u32 mode;        /* permission bits for O_CREAT / O_TMPFILE */
	__s32 dfd;         /* the directory fd of openat/openat2; AT_FDCWD for open */
	__u16 path_len;
	__u16 dir_len;
	__u8 syscall;      /* enum syscall_kind */
	__u8 status;       /* EV_* bits */
	char comm[16];
	__u8 data[];
};
EBPF_EXPORT(event);

/* ---- Maps ---- */

/* What sys_enter parks for sys_exit, kept in task-local storage: a slot that
 * hangs off the thread's task_struct itself. Compared with a hash map keyed
 * by thread id it needs no key, cannot fill up, and disappears with the
 * thread, so an entry whose exit we never see (the tool started or stopped
 * mid-call, the thread died) costs nothing. Instead of deleting the slot at
 * exit (an allocation per open), `active` is cleared, and the slot is reused
 * by the thread's next open. */
struct start {
	const char *fname;
	const struct open_how *how; /* openat2: read again at exit if it was not resident at entry */
	__u64 flags;
	__u32 mode;
	__s32 dfd;
	__u8 syscall;
	__u8 active;
	__u8 flags_unknown;         /* openat2's open_how could not be read at entry */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* required for local storage */
	__type(key, int);
	__type(value, struct start);
} starts SEC(".maps");

/* An event with a 4 KiB path is too big for the 512-byte BPF stack, so it is
 * built in a scratch buffer, one per CPU, and only the bytes used are copied
 * to the ring. Room for the path (up to PATH_MAX) and, after it, the -F
 * directory names (up to DIR_MAX_LEN), plus one maximal name so that a read
 * at any offset the verifier allows stays inside. Programs on a syscall
 * tracepoint run with preemption disabled (perf_syscall_enter/exit in
 * kernel/trace/trace_syscalls.c disable it around them), so nobody else uses
 * this CPU's buffer meanwhile. */
struct scratch {
	__u8 bytes[sizeof(struct event) + PATH_MAX_LEN + DIR_MAX_LEN + NAME_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

/* The ring buffer events go through (and its drop counter, events_drops).
 * Records are variable-length: a 20-byte path costs ~90 bytes of ring, not 4 KiB. */
EBPF_RINGBUF(events, 512 * 1024); /* user space sizes it before load (-b) */

/* ---- Helpers ---- */

/* -n: does the current comm contain targ_comm (a byte substring, as BCC)? */
static __always_inline bool comm_matches(void)
{
	char comm[16];
	__u32 i, j;

	bpf_get_current_comm(comm, sizeof(comm));
	for (i = 0; i < 16; i++) {
		if (i + targ_comm_len > 15)
			return false; /* comm holds at most 15 bytes and a NUL */
		for (j = 0; j < targ_comm_len && j < 16 && i + j < 16; j++)
			if (comm[i + j] != targ_comm[j])
				break;
		if (j == targ_comm_len)
			return true;
	}
	return false;
}

/* -f: see filter_accmodes above. */
static __always_inline bool flags_match(__u64 flags)
{
	int i;

	if (filter_accmodes & (1U << (flags & 3)))
		return true;
	if (flags & filter_any)
		return true;
	for (i = 0; i < 4; i++)
		if (filter_all[i] && (flags & filter_all[i]) == filter_all[i])
			return true;
	return false;
}

/* The filters that depend only on who is calling: checked first, so other
 * processes' opens cost one comparison and no map access. */
static __always_inline bool wanted(void)
{
	__u64 id = bpf_get_current_pid_tgid();

	if (targ_tid && (__u32)id != targ_tid)
		return false;
	if (targ_tgid && (id >> 32) != targ_tgid)
		return false;
	if (filter_uid && ebpf_current_uid() != targ_uid)
		return false;
	if (filter_comm && !comm_matches())
		return false;
	if (!ebpf_container_allowed())
		return false;
	return true;
}

static __always_inline int on_enter(__u8 syscall, int dfd, const char *fname, __u64 flags, __u32 mode,
				    const struct open_how *how, bool flags_unknown)
{
	struct start *s;

	if (!flags_unknown && filter_flags && !flags_match(flags))
		return 0;
	s = bpf_task_storage_get(&starts, bpf_get_current_task_btf(), 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!s)
		return 0;
	s->fname = fname;
	s->how = how;
	s->flags = flags;
	s->mode = mode;
	s->dfd = dfd;
	s->syscall = syscall;
	s->flags_unknown = flags_unknown;
	s->active = 1;
	return 0;
}

/* The directory a path starting at `dfd` is relative to: the current
 * working directory for AT_FDCWD, else the file open as `dfd`. */
static __always_inline int start_dir(struct task_struct *task, int dfd, struct path *p)
{
	struct file **fds, *file;
	struct fdtable *fdt;

	if (dfd == AT_FDCWD) {
		struct fs_struct *fs = BPF_CORE_READ(task, fs);

		return bpf_core_read(p, sizeof(*p), &fs->pwd);
	}
	if (dfd < 0)
		return -1;
	fdt = BPF_CORE_READ(task, files, fdt);
	if ((unsigned int)dfd >= BPF_CORE_READ(fdt, max_fds))
		return -1;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[dfd]) || !file)
		return -1;
	return bpf_core_read(p, sizeof(*p), &file->f_path);
}

/* -F: where a relative path starts, as directory names (see walk_dir). */
struct walk {
	struct dentry *dentry;     /* current position */
	struct vfsmount *vfsmnt;
	struct mount *mnt;         /* the struct mount around vfsmnt */
	struct dentry *root_dentry; /* the process's root (chroot) */
	struct vfsmount *root_mnt;
	__u64 mnt_off;             /* offsetof(struct mount, mnt), from BTF */
	__u32 base;                /* where the names go: after the path in event.data */
	__u32 off;                 /* bytes of names written */
	__u8 status;
	bool done;
};

/* One step up the tree; bpf_loop() calls it up to MAX_WALK times. Returns 1
 * to stop. A callback is verified once, however many times it runs: the same
 * walk as a plain loop makes the verifier explore every iteration's branches
 * and gives up (E2BIG). */
static long walk_step(__u64 index, struct walk *w)
{
	/* Locals, not w->...: BPF_CORE_READ(w->mnt, ...) would ask CO-RE to
	 * relocate struct walk too, which the kernel does not know. */
	struct dentry *dentry = w->dentry, *parent;
	struct vfsmount *vfsmnt = w->vfsmnt;
	struct mount *mnt = w->mnt, *mnt_parent;
	const unsigned char *name;
	struct scratch *buf;
	struct event *e;
	__u32 zero = 0;
	long n;

	if (dentry == w->root_dentry && vfsmnt == w->root_mnt) {
		w->done = true; /* the process's root */
		return 1;
	}
	if (dentry == BPF_CORE_READ(vfsmnt, mnt_root)) {
		/* The top of this mount: continue from where it is mounted. */
		mnt_parent = BPF_CORE_READ(mnt, mnt_parent);
		if (mnt_parent == mnt) {
			w->done = true; /* the namespace's root mount */
			return 1;
		}
		w->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = mnt_parent;
		w->vfsmnt = (struct vfsmount *)((void *)mnt_parent + w->mnt_off);
		return 0;
	}
	parent = BPF_CORE_READ(dentry, d_parent);
	if (parent == dentry) {
		w->done = true; /* a filesystem root that is no mount's root: detached */
		return 1;
	}
	if (w->off > DIR_MAX_LEN - NAME_LEN) {
		w->status |= EV_DIR_TRUNCATED;
		return 1;
	}
	buf = bpf_map_lookup_elem(&scratch, &zero);
	if (!buf)
		return 1;
	e = (struct event *)buf->bytes;
	name = BPF_CORE_READ(dentry, d_name.name);
	/* base < PATH_MAX_LEN and off <= DIR_MAX_LEN - NAME_LEN: the masks say so to the verifier. */
	n = bpf_probe_read_kernel_str(e->data + (w->base & (PATH_MAX_LEN - 1)) + (w->off & (DIR_MAX_LEN - 1)),
				      NAME_LEN, name);
	if (n <= 0) {
		w->status |= EV_DIR_FAULT;
		return 1;
	}
	w->off += n;
	w->dentry = parent;
	return 0;
}

/* -F: writes after the path the names of the directories from the one the
 * path is relative to (the cwd, or openat's dirfd) up to the process's root,
 * each NUL-terminated, innermost first. The same walk as the kernel's
 * d_path(): up through d_parent within a mount; at a mount's root dentry,
 * over to the dentry it is mounted on, in the parent mount. BCC follows
 * d_parent only, so below a mount point (/tmp on tmpfs, /proc, a container's
 * bind mounts) its paths lose their leading directories. Stopping at the
 * process's root (chroot) like d_path gives the path the process itself
 * would use. */
static __always_inline void walk_dir(struct event *e, __u32 base)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fs_struct *fs = BPF_CORE_READ(task, fs);
	struct path pwd, root;
	struct walk w = {};

	if (start_dir(task, e->dfd, &pwd) || bpf_core_read(&root, sizeof(root), &fs->root)) {
		e->status |= EV_DIR_FAULT;
		return;
	}
	w.dentry = pwd.dentry;
	w.vfsmnt = pwd.mnt;
	w.mnt_off = bpf_core_field_offset(struct mount, mnt);
	w.mnt = (struct mount *)((void *)pwd.mnt - w.mnt_off); /* container_of(vfsmnt, struct mount, mnt) */
	w.root_dentry = root.dentry;
	w.root_mnt = root.mnt;
	w.base = base;
	bpf_loop(MAX_WALK, walk_step, &w, 0);
	if (!w.done && !(w.status & (EV_DIR_FAULT | EV_DIR_TRUNCATED)))
		w.status |= EV_DIR_TRUNCATED; /* MAX_WALK steps were not enough */
	e->status |= w.status | EV_DIR;
	e->dir_len = w.off;
}

static __always_inline int on_exit(__u8 syscall, long ret)
{
	struct start *s;
	struct scratch *buf;
	struct event *e;
	__u32 zero = 0, len;
	__u64 id, size;
	long n;

	s = bpf_task_storage_get(&starts, bpf_get_current_task_btf(), 0, 0);
	if (!s || !s->active)
		return 0;
	s->active = 0;
	/* A slot left by another syscall whose exit we missed (tool start-up) is not ours. */
	if (s->syscall != syscall)
		return 0;
	if (failed_only && ret >= 0)
		return 0;
	if (s->flags_unknown) {
		/* openat2's struct open_how was not resident at entry; the kernel
		 * has copied it since (copy_struct_from_user), so it is now. */
		if (bpf_probe_read_user(&s->flags, sizeof(s->flags), &s->how->flags) ||
		    bpf_probe_read_user(&s->mode, sizeof(s->mode), &s->how->mode))
			s->flags = s->mode = 0;
		if (filter_flags && !flags_match(s->flags))
			return 0;
	}

	buf = bpf_map_lookup_elem(&scratch, &zero);
	if (!buf)
		return 0;
	e = (struct event *)buf->bytes;
	id = bpf_get_current_pid_tgid();
	e->ts = bpf_ktime_get_ns();
	e->flags = s->flags;
	e->cgroup_id = ebpf_current_cgroup_id();
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->uid = ebpf_current_uid();
	e->ret = ret;
	e->mode = s->mode;
	e->dfd = s->dfd;
	e->syscall = syscall;
	e->status = full_path ? EV_FULL_PATH : 0;
	e->dir_len = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));

	/* One byte more than PATH_MAX: a return of PATH_MAX + 1 means the string
	 * did not end within PATH_MAX bytes (the kernel said ENAMETOOLONG), so the
	 * path shown is cut, and marked. */
	n = bpf_probe_read_user_str(e->data, PATH_MAX_LEN + 1, s->fname);
	if (n <= 0) {
		e->status |= EV_PATH_FAULT;
		n = 1;
	} else if (n > PATH_MAX_LEN) {
		e->status |= EV_PATH_TRUNCATED;
		n = PATH_MAX_LEN + 1;
	}
	len = n - 1; /* without the NUL */
	e->path_len = len;

	/* -F, relative path (not starting with '/'): where it starts from.
	 * (Not for a cut path: that open failed, ENAMETOOLONG.) Here len <
	 * PATH_MAX_LEN; the mask says so to the verifier. */
	if (full_path && !(e->status & (EV_PATH_FAULT | EV_PATH_TRUNCATED)) && e->data[0] != '/')
		walk_dir(e, len);

	/* Send only the bytes used. */
	size = offsetof(struct event, data) + (len & (PATH_MAX_LEN * 2 - 1)) + (e->dir_len & (DIR_MAX_LEN * 2 - 1));
	/* The verifier's bounds on a sum are looser than the compiler's: barrier_var()
	 * keeps the check the compiler would drop, so the verifier sees size <= sizeof(*buf). */
	barrier_var(size);
	if (size > sizeof(*buf))
		size = sizeof(*buf);
	ebpf_output(events, buf, size);
	return 0;
}

/* ---- Entry points, one per hook ---- */

/* open(filename, flags, mode) */
SEC("tracepoint/syscalls/sys_enter_open")
int sys_enter_open(struct trace_event_raw_sys_enter *ctx)
{
	if (!wanted())
		return 0;
	return on_enter(SYS_OPEN, AT_FDCWD, (const char *)ctx->args[0], ctx->args[1], ctx->args[2], NULL, false);
}

/* openat(dfd, filename, flags, mode): what glibc's open() calls. */
SEC("tracepoint/syscalls/sys_enter_openat")
int sys_enter_openat(struct trace_event_raw_sys_enter *ctx)
{
	if (!wanted())
		return 0;
	return on_enter(SYS_OPENAT, (int)ctx->args[0], (const char *)ctx->args[1], ctx->args[2], ctx->args[3],
			NULL, false);
}

/* openat2(dfd, filename, how, usize): the flags and mode are in a struct
 * open_how in the caller's memory; flags is its first field (a u64). */
SEC("tracepoint/syscalls/sys_enter_openat2")
int sys_enter_openat2(struct trace_event_raw_sys_enter *ctx)
{
	const struct open_how *how = (const struct open_how *)ctx->args[2];
	__u64 flags = 0, mode = 0;
	bool unknown;

	if (!wanted())
		return 0;
	unknown = bpf_probe_read_user(&flags, sizeof(flags), &how->flags) ||
		  bpf_probe_read_user(&mode, sizeof(mode), &how->mode);
	return on_enter(SYS_OPENAT2, (int)ctx->args[0], (const char *)ctx->args[1], flags, mode, how, unknown);
}

SEC("tracepoint/syscalls/sys_exit_open")
int sys_exit_open(struct trace_event_raw_sys_exit *ctx)
{
	return on_exit(SYS_OPEN, ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_openat")
int sys_exit_openat(struct trace_event_raw_sys_exit *ctx)
{
	return on_exit(SYS_OPENAT, ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int sys_exit_openat2(struct trace_event_raw_sys_exit *ctx)
{
	return on_exit(SYS_OPENAT2, ctx->ret);
}

char LICENSE[] SEC("license") = "GPL";
