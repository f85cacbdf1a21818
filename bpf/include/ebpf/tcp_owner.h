/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tcp_owner.h: which process a TCP socket belongs to, for the tools built on
 * the tracepoint sock:inet_sock_set_state (tcplife, tcpstates, tcpconnlat...).
 *
 * INTERFACE
 *
 *   struct tcp_owner { __u32 pid; __u32 how; char comm[16]; };
 *     pid is a process (thread-group) id. how says where it came from:
 *       TCP_OWNER_NONE     0  not known (pid 0, comm "")
 *       TCP_OWNER_TASK     1  the last task that changed the socket's state
 *                             inside a system call (connect, listen, shutdown, close)
 *       TCP_OWNER_ACCEPT   2  the task that accept()ed it (a server socket that
 *                             has not changed state in a system call since)
 *       TCP_OWNER_LISTENER 3  the task that listen()ed on its port (a server
 *                             socket never accepted in a traced system call)
 *     User space: send `how` along in the record and decode it with
 *     @ebpf/core/inet's tcpOwnerSource() ('task', 'accept', 'listener',
 *     'unknown'); TCP_OWNER there holds these values (a core test checks them).
 *
 *   void tcp_owner_update(struct sock *sk, __u16 family, __u16 lport, int oldstate, int newstate)
 *     Call at every sock:inet_sock_set_state of a TCP socket the tool follows
 *     (after its own filters), before reading the owner. No map access unless
 *     this change tells something (a system call, a new server socket).
 *   struct tcp_owner *tcp_owner_lookup(struct sock *sk)
 *     The owner as known now, or NULL (not known). Usable from any hook.
 *   bool tcp_owner_get(struct sock *sk, struct tcp_owner *out)
 *     The same, copied into *out (zeroed, how = TCP_OWNER_NONE, when not known).
 *   void tcp_owner_forget(struct sock *sk)
 *     Call when the socket reaches TCP_CLOSE (after reading its owner), and
 *     when the tool stops following a socket early (a filter dropped it).
 *   void tcp_owner_accepted(long ret)
 *     Call from SEC("tracepoint/syscalls/sys_exit_accept4") and
 *     SEC("tracepoint/syscalls/sys_exit_accept") with ctx->ret (the new fd).
 *     Optional: without it, accepted sockets keep the listener's owner until
 *     they change state in a system call.
 *   TCP_OWNER_ACCEPT_PROGRAMS()
 *     Defines those two programs (sys_exit_accept4, sys_exit_accept), each a
 *     call to tcp_owner_accepted(): write it once, at file scope.
 *   bool tcp_current_owns(struct sock *sk)
 *     True when the current task is the socket's user, in a system call.
 *
 * Maps it defines (names taken): tcp_owners (socket address -> struct
 * tcp_owner; at most TCP_OWNER_MAX sockets followed at once; define it before
 * the #include to change it) and tcp_listeners (family + port -> the task that
 * listen()ed there).
 *
 * HOW IT WORKS
 *
 * A tracepoint runs in whatever context changed the state. connect(),
 * listen(), shutdown() and close() are system calls: there the current task
 * is the socket's user. Most other moves happen when a packet arrives, in
 * softirq context, on behalf of whatever task the CPU happened to run: over
 * loopback the *peer* (its send processes our packet), otherwise any task,
 * ksoftirqd or the idle task. The socket tells the two apart: a system call
 * that works on a socket takes the socket lock with lock_sock(), which sets
 * sk->sk_lock.owned; softirq code never sets it (when it finds the socket
 * owned, it queues the packet to the owner's backlog, and the owner processes
 * it in its own context when it releases the lock). So sk_lock.owned != 0
 * during a state change means "the current task is this socket's user".
 *
 * A server socket is born in softirq context (LISTEN -> SYN_RECV, when the
 * handshake's last ACK arrives) and reaches ESTABLISHED there too; accept()
 * changes no state. So it is first given the owner of its listener (recorded
 * at CLOSE -> LISTEN, by port), and then the task that accept()s it: accept()
 * returns a file descriptor, and at sys_exit_accept{,4} the current task's
 * file table says which socket that is: current->files->fdt->fd[fd] is a
 * struct file whose private_data is the struct socket, and socket->sk is the
 * struct sock the tracepoint knows (read with CO-RE: no kprobe needed). This
 * matters for prefork servers (the master listens, workers accept): a session
 * a client resets never changes state in a worker's system call, and would
 * otherwise be the master's.
 *
 * Not seen: accepts by io_uring (no accept system call), sockets created
 * before tracing began (their first system call state change names them),
 * and listeners sharing a port (SO_REUSEPORT: the last listen() names them).
 */
#ifndef __EBPF_TCP_OWNER_H
#define __EBPF_TCP_OWNER_H

#include "ebpf/common.h"

#define TCP_OWNER_NONE 0
#define TCP_OWNER_TASK 1
#define TCP_OWNER_ACCEPT 2
#define TCP_OWNER_LISTENER 3

#ifndef TCP_OWNER_MAX
#define TCP_OWNER_MAX 65536
#endif

struct tcp_owner {
	__u32 pid;
	__u32 how; /* TCP_OWNER_* */
	char comm[16];
};

/* Followed sockets, by address. Entries go at CLOSE (tcp_owner_forget), so
 * the map holds live sockets only. Not preallocated: memory follows use. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TCP_OWNER_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct tcp_owner);
} tcp_owners SEC(".maps");

struct tcp_listener_key {
	__u16 family;
	__u16 port;
};

/* Who listen()ed on a port. LRU: listeners are never removed, so that server
 * sockets created just before their listener closed still find it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct tcp_listener_key);
	__type(value, struct tcp_owner);
} tcp_listeners SEC(".maps");

static __always_inline bool tcp_current_owns(struct sock *sk)
{
	return BPF_CORE_READ(sk, sk_lock.owned) != 0;
}

static __always_inline void tcp_owner_current(struct tcp_owner *o, __u32 how)
{
	o->pid = ebpf_current_tgid();
	o->how = how;
	bpf_get_current_comm(o->comm, sizeof(o->comm));
}

/* Sets the socket's owner: in place when it has an entry (an update would
 * allocate a new element), else a new entry. */
static __always_inline void tcp_owner_set(__u64 key, const struct tcp_owner *o)
{
	struct tcp_owner *cur = bpf_map_lookup_elem(&tcp_owners, &key);

	if (cur)
		*cur = *o;
	else
		bpf_map_update_elem(&tcp_owners, &key, o, BPF_NOEXIST);
}

static __always_inline void tcp_owner_update(struct sock *sk, __u16 family, __u16 lport,
					     int oldstate, int newstate)
{
	__u64 key = (__u64)sk;
	struct tcp_owner o = {};

	if (tcp_current_owns(sk)) {
		tcp_owner_current(&o, TCP_OWNER_TASK);
		tcp_owner_set(key, &o);
		if (newstate == TCP_LISTEN) {
			struct tcp_listener_key lk = { .family = family, .port = lport };
			bpf_map_update_elem(&tcp_listeners, &lk, &o, BPF_ANY);
		}
		return;
	}
	if (oldstate == TCP_LISTEN && newstate == TCP_SYN_RECV) {
		/* A new server socket, in softirq context: the current task is
		 * whoever sent the packet. Borrow the listener's owner; an entry
		 * even when it is not known, for tcp_owner_accepted() to fill. */
		struct tcp_listener_key lk = { .family = family, .port = lport };
		struct tcp_owner *l = bpf_map_lookup_elem(&tcp_listeners, &lk);

		if (l) {
			o = *l;
			o.how = TCP_OWNER_LISTENER;
		}
		bpf_map_update_elem(&tcp_owners, &key, &o, BPF_ANY);
	}
}

static __always_inline struct tcp_owner *tcp_owner_lookup(struct sock *sk)
{
	__u64 key = (__u64)sk;

	return bpf_map_lookup_elem(&tcp_owners, &key);
}

static __always_inline bool tcp_owner_get(struct sock *sk, struct tcp_owner *out)
{
	struct tcp_owner *o = tcp_owner_lookup(sk);

	if (o && o->how != TCP_OWNER_NONE) {
		*out = *o;
		return true;
	}
	__builtin_memset(out, 0, sizeof(*out));
	return false;
}

static __always_inline void tcp_owner_forget(struct sock *sk)
{
	__u64 key = (__u64)sk;

	bpf_map_delete_elem(&tcp_owners, &key);
}

/* At the exit of accept()/accept4(): `ret` is the new file descriptor. */
static __always_inline void tcp_owner_accepted(long ret)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file **fds, *file = NULL;
	struct fdtable *fdt;
	struct socket *sock;
	struct tcp_owner *o;
	__u64 key;

	if (ret < 0)
		return;
	fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || ret >= BPF_CORE_READ(fdt, max_fds))
		return;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[ret]) || !file)
		return;
	/* A socket's file points to its struct socket, which points back. (The
	 * fd could have been closed and reused by another thread since accept
	 * installed it: then it is not this socket, or not a socket at all.) */
	sock = BPF_CORE_READ(file, private_data);
	if (!sock || BPF_CORE_READ(sock, file) != file)
		return;
	key = (__u64)BPF_CORE_READ(sock, sk);
	/* Only sockets the tool follows have an entry (TCP ones, past its filters). */
	o = bpf_map_lookup_elem(&tcp_owners, &key);
	if (o)
		tcp_owner_current(o, TCP_OWNER_ACCEPT);
}

/* accept() and accept4() return the new connection's file descriptor: the
 * task accepting it owns the server socket from now on (until it, or another
 * task, changes the socket's state in a system call). */
#define TCP_OWNER_ACCEPT_PROGRAMS()                                          \
	SEC("tracepoint/syscalls/sys_exit_accept4")                          \
	int sys_exit_accept4(struct trace_event_raw_sys_exit *ctx)           \
	{                                                                    \
		tcp_owner_accepted(ctx->ret);                                \
		return 0;                                                    \
	}                                                                    \
	SEC("tracepoint/syscalls/sys_exit_accept")                           \
	int sys_exit_accept(struct trace_event_raw_sys_exit *ctx)            \
	{                                                                    \
		tcp_owner_accepted(ctx->ret);                                \
		return 0;                                                    \
	}

#endif /* __EBPF_TCP_OWNER_H */
