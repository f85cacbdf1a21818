// SPDX-License-Identifier: GPL-2.0
//
// tcplife: one record per TCP session when it closes: who owned it, both
// ends' addresses and ports, payload bytes each way, and how long it lived.
//
// A lesson in following an object through a state machine from a single
// tracepoint, and in knowing *who* you are running as when it fires.
//
// Every TCP socket moves through the states of RFC 793, and the kernel
// reports every move on the tracepoint sock:inet_sock_set_state, with the
// socket's address (`skaddr`, used here as the session's identity), the old
// and new state, ports and addresses. A session looks like this:
//
//   client (active open)                    server (passive open)
//   CLOSE -> SYN_SENT        connect()
//                                           LISTEN -> SYN_RECV   a new child socket
//   SYN_SENT -> ESTABLISHED                 SYN_RECV -> ESTABLISHED
//   ESTABLISHED -> FIN_WAIT1 close()        ESTABLISHED -> CLOSE_WAIT  (their FIN)
//   FIN_WAIT1 -> FIN_WAIT2   (FIN acked)    CLOSE_WAIT -> LAST_ACK     close()
//   FIN_WAIT2 -> CLOSE       (their FIN)    LAST_ACK -> CLOSE          (FIN acked)
//
// (Either side may close first; the other side then takes the right-hand
// path.) So: remember the socket when it opens, note what happens on the way,
// and report when it reaches CLOSE. Three things need care.
//
// 1. Who owns the session? A tracepoint runs in whatever context changed the
//    state: inside a system call (connect, close) the current task is the
//    socket's user, but most moves happen when a packet arrives, in softirq
//    context, on behalf of whatever task the CPU happened to run (over
//    loopback the *peer*, otherwise any task or the idle task). BCC caches
//    pid/comm only at SYN_SENT and LAST_ACK and otherwise takes the current
//    task at CLOSE, so a server that closes first is reported under its
//    client's PID (over loopback) or under pid 0. Here the owner comes from
//    ebpf/tcp_owner.h, shared with the other TCP tools: the last task that
//    changed the socket's state inside a system call (the socket lock it
//    holds, sk_lock.owned, says so); before that, for a server socket, the
//    task that accept()ed it (sys_exit_accept4/sys_exit_accept: the returned
//    fd, looked up in the task's file table); before that, the task that
//    listen()ed on its port. A prefork server's sessions are thus its
//    workers', even those a client resets (they never change state in a
//    worker's system call).
//
// 2. A connection refused (or timed out) goes CLOSE -> SYN_SENT -> CLOSE and
//    never was a session: BCC prints it anyway, with zero bytes. Only
//    sessions that reached ESTABLISHED are reported here.
//
// 3. Bytes. tcp_sock.bytes_acked and .bytes_received (RFC 4898, what
//    `ss -i` shows and BCC reports) count sequence numbers, and SYN and FIN
//    each use one: a client that wrote 300000 bytes and closed shows
//    bytes_acked = 300002. The payload is recovered exactly from facts the
//    socket keeps: our SYN was acked if we opened actively (and the session
//    was established); our FIN was acked if we sent one and everything we
//    sent is acked (snd_una == write_seq: the FIN is the last sequence
//    number); their FIN was received if the socket has the SOCK_DONE flag,
//    which tcp_fin() sets when it processes the FIN.
//
// Hooks: tracepoint sock:inet_sock_set_state (no kprobes on this kernel, and
// none needed: this one tracepoint sees every state change of every socket),
// and the exits of accept4() and accept() for the owner of server sockets.
#include "ebpf/common.h"
#include "ebpf/output.h"
#include "ebpf/tcp_owner.h"
#include "ebpf/tcp.h"         /* targ_family, TCP_SOCK_MAP, the flow of a record */
#include "ebpf/port_filter.h"
#include "ebpf/container.h"   /* --cgroup, --cgroupmap: ebpf_sock_container_allowed() */

/* ---- Load-time config (const volatile: .rodata, constants to the verifier) ---- */
const volatile __u32 targ_pid = 0;     /* only sessions owned by this process (0: all) */
/* -4 and -6: targ_family comes with ebpf/tcp.h.
 * -L and -D: filter_lport, lport_bits, filter_rport, rport_bits come with
 * ebpf/port_filter.h (bitmaps of the ports to keep). */

#define EEXIST 17

/* Session flags (struct session.flags; sent along in struct event.flags). */
#define F_ACTIVE 0x01         /* this side opened: connect(), SYN_SENT seen */
#define F_ESTABLISHED 0x02    /* the handshake completed */
#define F_FIN_SENT 0x04       /* this side sent a FIN: FIN_WAIT1 or LAST_ACK seen */

/* What is remembered about a live session, from open to close (its owner is
 * kept by tcp_owner.h, in its own map). */
struct session {
	__u64 birth_ns; /* first state change seen: SYN_SENT or SYN_RECV */
	__u32 flags;
	__u32 pad;
};

/* What user space receives, once per session, at close. */
struct event {
	__u64 ts;          /* bpf_ktime_get_ns() at close */
	__u64 span_ns;     /* close - birth */
	__u64 tx_bytes;    /* payload sent and acknowledged */
	__u64 rx_bytes;    /* payload received */
	__u32 pid;
	__u32 flags;       /* F_* */
	__u16 family;      /* AF_INET or AF_INET6 */
	__u16 lport;
	__u16 rport;
	__u16 owner;       /* how the owner was found: TCP_OWNER_* (tcp_owner.h) */
	__u8 laddr[16];    /* IPv4: the first 4 bytes */
	__u8 raddr[16];
	char comm[16];
};
EBPF_EXPORT(event);

/* ---- Maps ---- */

/* Live sessions, keyed by the socket's address (ebpf/tcp.h: 65536 at once,
 * not preallocated). Every entry is removed when its socket reaches CLOSE, so
 * the map holds only open sessions. */
TCP_SOCK_MAP(sessions, struct session);

/* Owners: the maps tcp_owners (socket -> owner) and tcp_listeners (port ->
 * owner) come with ebpf/tcp_owner.h. */

EBPF_RINGBUF(events, 1024 * 1024); /* user space may resize it before load */

/* Sessions not followed because `sessions` was full (read by user space). */
__u64 sessions_untracked = 0;

/* ---- Helpers ---- */

/* Port filters, applied at every state change (as BCC does), so a filtered
 * session is dropped as early as its ports are known. A port of 0 is not
 * known yet: connect() enters SYN_SENT before it picks the local port. */
static __always_inline bool ports_wanted(__u16 lport, __u16 rport)
{
	if (filter_lport && lport && !ebpf_port_in(lport_bits, lport))
		return false;
	if (filter_rport && rport && !ebpf_port_in(rport_bits, rport))
		return false;
	return true;
}

/* Into SYN_SENT, SYN_RECV or ESTABLISHED: a session opens. */
static __always_inline void on_open(__u64 key, int old, int new)
{
	struct session *s = bpf_map_lookup_elem(&sessions, &key);
	long err;

	if (s) {
		if (new == TCP_ESTABLISHED)
			s->flags |= F_ESTABLISHED;
		return;
	}

	/* First sight: normally SYN_SENT (client) or LISTEN -> SYN_RECV (server's
	 * new child). ESTABLISHED first only when the tool started mid-handshake. */
	struct session n = {};
	n.birth_ns = bpf_ktime_get_ns();
	if (new == TCP_SYN_SENT || old == TCP_SYN_SENT)
		n.flags |= F_ACTIVE;
	if (new == TCP_ESTABLISHED)
		n.flags |= F_ESTABLISHED;
	err = bpf_map_update_elem(&sessions, &key, &n, BPF_NOEXIST);
	if (err && err != -EEXIST)
		__sync_fetch_and_add(&sessions_untracked, 1);
}

/* FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT, LAST_ACK, CLOSING: on the way out. Only
 * a FIN sent by this side matters here (the owner is tcp_owner.h's). */
static __always_inline void on_progress(__u64 key, int new)
{
	struct session *s;

	if (new != TCP_FIN_WAIT1 && new != TCP_LAST_ACK)
		return; /* nothing to note: no map lookup */
	s = bpf_map_lookup_elem(&sessions, &key);
	if (s)
		s->flags |= F_FIN_SENT;
}

/* Into CLOSE: the session is over; report it. */
static __always_inline void on_close(struct trace_event_raw_inet_sock_set_state *ctx,
				     struct sock *sk, __u64 key)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	struct tcp_owner owner;
	struct session *s;
	struct event *e;
	__u64 acked, received;

	s = bpf_map_lookup_elem(&sessions, &key);
	if (!s)
		return; /* opened before we started: its birth is unknown (BCC skips these too) */
	/* Refused, timed out, or a handshake that never completed: no session. */
	if (!(s->flags & F_ESTABLISHED))
		goto out;
	tcp_owner_get(sk, &owner);
	if (targ_pid && owner.pid != targ_pid)
		goto out;
	/* The socket's own cgroup: this often runs in softirq context, where
	 * the current task is a bystander. */
	if (!ebpf_sock_container_allowed(sk))
		goto out;

	/* Payload bytes: the counters minus the sequence numbers SYN and FIN use (see 3.). */
	acked = BPF_CORE_READ(tp, bytes_acked);
	received = BPF_CORE_READ(tp, bytes_received);
	if ((s->flags & F_ACTIVE) && acked)
		acked--; /* our SYN */
	if ((s->flags & F_FIN_SENT) && acked &&
	    BPF_CORE_READ(tp, snd_una) == BPF_CORE_READ(tp, write_seq))
		acked--; /* our FIN */
	if (received &&
	    (BPF_CORE_READ(sk, __sk_common.skc_flags) & (1UL << bpf_core_enum_value(enum sock_flags, SOCK_DONE))))
		received--; /* their FIN */

	e = ebpf_reserve(events, sizeof(*e));
	if (!e)
		goto out; /* ring full: counted in events_drops */
	e->ts = bpf_ktime_get_ns();
	e->span_ns = e->ts - s->birth_ns;
	e->tx_bytes = acked;
	e->rx_bytes = received;
	e->pid = owner.pid;
	e->flags = s->flags;
	e->owner = owner.how;
	/* family, ports and addresses, from the tracepoint (ebpf/tcp.h) */
	TCP_FLOW_FROM_SET_STATE(e, ctx);
	__builtin_memcpy(e->comm, owner.comm, sizeof(e->comm));
	ebpf_submit(events, e);
out:
	bpf_map_delete_elem(&sessions, &key);
}

/* ---- Entry points ---- */

/* A change of a TCP socket of the family -4/-6 asks for (ebpf/tcp.h's
 * TCP_SET_STATE_PROGRAM below calls it: the program on
 * sock:inet_sock_set_state, which also reports SCTP and MPTCP sockets). */
static __always_inline void on_set_state(struct trace_event_raw_inet_sock_set_state *ctx,
					 struct sock *sk, int old, int new)
{
	__u64 key = (__u64)sk;
	__u16 family = ctx->family, lport = ctx->sport, rport = ctx->dport;

	if (!ports_wanted(lport, rport)) {
		/* A client's local port shows up only after SYN_SENT: drop
		 * what was recorded before it was known. */
		bpf_map_delete_elem(&sessions, &key);
		tcp_owner_forget(sk);
		return;
	}

	/* Who owns it, as far as this change tells (tcp_owner.h). */
	tcp_owner_update(sk, family, lport, old, new);

	if (new == TCP_LISTEN)
		return; /* a listener: not a session (its port's owner is noted) */
	if (old == TCP_LISTEN && new != TCP_SYN_RECV) {
		tcp_owner_forget(sk); /* a listener closing: not a session */
		return;
	}
	if (new < TCP_FIN_WAIT1) /* SYN_SENT, SYN_RECV, ESTABLISHED (BCC's test) */
		on_open(key, old, new);
	else if (new == TCP_CLOSE) {
		on_close(ctx, sk, key);
		tcp_owner_forget(sk);
	} else
		on_progress(key, new);
}

TCP_SET_STATE_PROGRAM(on_set_state)

/* sys_exit_accept4 and sys_exit_accept: the task accepting a connection owns
 * the server socket from then on (tcp_owner.h). */
TCP_OWNER_ACCEPT_PROGRAMS()

char LICENSE[] SEC("license") = "GPL";
