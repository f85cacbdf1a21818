// SPDX-License-Identifier: GPL-2.0
//
// tcpstates: one record per TCP state change, with the time the socket spent
// in the state it leaves, and the process the socket belongs to.
//
// A lesson in timing a state machine from one tracepoint: remember when each
// socket entered its current state, and at its next change the difference is
// the time it spent there.
//
// Every TCP socket moves through the states of RFC 793 (include/net/
// tcp_states.h), and the kernel reports every move on the tracepoint
// sock:inet_sock_set_state, with the socket's address (`skaddr`: the key that
// follows one socket across its changes), the old and new state, the family,
// both ports and both addresses. A short loopback session looks like this:
//
//   client                                   server
//   CLOSE -> SYN_SENT        connect()       CLOSE -> LISTEN    listen() (earlier)
//                                            LISTEN -> SYN_RECV       a new socket
//   SYN_SENT -> ESTABLISHED                  SYN_RECV -> ESTABLISHED
//   ESTABLISHED -> FIN_WAIT1 close()         ESTABLISHED -> CLOSE_WAIT  (their FIN)
//   FIN_WAIT1 -> FIN_WAIT2   (FIN acked)     CLOSE_WAIT -> LAST_ACK     close()
//   FIN_WAIT2 -> CLOSE       (their FIN)     LAST_ACK -> CLOSE          (FIN acked)
//
// (FIN_WAIT2 -> CLOSE: the socket hands over to a lighter TIME_WAIT socket,
// which the tracepoint does not report.) Three things need care.
//
// 1. The time in a state. A map holds, per socket, the time of its last
//    change; the next change reads it (the span) and stores its own time; at
//    CLOSE the entry goes. The first change seen of a socket has no span:
//    CLOSE -> SYN_SENT and CLOSE -> LISTEN start a socket's life, LISTEN ->
//    SYN_RECV starts a server socket's (its LISTEN was its listener's), and
//    sockets older than the trace were not seen entering their state. BCC
//    prints 0 for those; here the record says "not known" (flag F_SPAN), and
//    the text columns print 0.000 as BCC's do.
//
// 2. Who. A tracepoint runs in whatever context changed the state: BCC's
//    C-PID and C-COMM are the task on the CPU, which is the socket's user
//    only inside a system call (connect, close); a change made when a packet
//    arrives runs in softirq context on behalf of any task (over loopback,
//    the *peer*). Here every row names the socket's owner instead, from
//    ebpf/tcp_owner.h, shared with tcplife: the last task to change the
//    socket's state inside a system call (the socket lock it holds says so),
//    else, for a server socket, the task that accept()ed it (the exits of
//    accept4() and accept(): the returned fd, looked up in the task's file
//    table), else the task that listen()ed on its port.
//
// 3. Port filters (-L, -D), in the kernel, on every change as BCC does. A
//    port of 0 is not known yet (connect() enters SYN_SENT before it picks
//    its local port; a listener has no remote port): such a change is not
//    printed under that filter, but its time and owner are still recorded,
//    so the next change (with its port) has its span. BCC drops the socket
//    there, and then prints that next span as 0.
//
// Hooks: tracepoint sock:inet_sock_set_state (no kprobes on this kernel, and
// none needed), tracepoints syscalls:sys_exit_accept4 and sys_exit_accept.
#include "ebpf/common.h"
#include "ebpf/output.h"
#include "ebpf/tcp_owner.h"
#include "ebpf/tcp.h"         /* targ_family, TCP_SOCK_MAP, the flow of a record */
#include "ebpf/port_filter.h"
#include "ebpf/container.h"   /* --cgroup, --cgroupmap: ebpf_sock_container_allowed() */

/* ---- Load-time config (const volatile: .rodata, constants to the verifier) ---- */
/* -4 and -6: targ_family comes with ebpf/tcp.h.
 * -L and -D: filter_lport, lport_bits, filter_rport, rport_bits come with
 * ebpf/port_filter.h (bitmaps of the ports to keep). */

/* struct event.flags */
#define F_SPAN 0x01 /* span_ns is known: the socket was seen entering oldstate */

/* What user space receives, once per state change. */
struct event {
	__u64 ts;       /* bpf_ktime_get_ns() at the change */
	__u64 skaddr;   /* the socket's kernel address: its identity */
	__u64 span_ns;  /* time spent in oldstate (F_SPAN) */
	__u32 pid;      /* the owner (see 2.); 0: not known */
	__u16 family;   /* AF_INET or AF_INET6 */
	__u16 lport;
	__u16 rport;
	__u8 oldstate;
	__u8 newstate;
	__u8 owner;     /* how pid was found: TCP_OWNER_* (tcp_owner.h) */
	__u8 flags;     /* F_* */
	__u16 pad;
	__u8 laddr[16]; /* IPv4: the first 4 bytes */
	__u8 raddr[16];
	char comm[16];
};
EBPF_EXPORT(event);

/* ---- Maps ---- */

/* When each followed socket entered its current state, by socket address
 * (ebpf/tcp.h: 65536 at once, not preallocated). Removed at CLOSE, so the map
 * holds live sockets only. A socket that finds it full is still reported,
 * without spans. */
TCP_SOCK_MAP(entered, __u64);

/* Owners: tcp_owners and tcp_listeners come with ebpf/tcp_owner.h. */

EBPF_RINGBUF(events, 1024 * 1024); /* user space may resize it before load */

/* ---- Helpers ---- */

/* The port filters: 1 keep, 0 not known yet (a port of 0 under a filter),
 * -1 drop. */
static __always_inline int ports_wanted(__u16 lport, __u16 rport)
{
	int known = 1;

	if (filter_lport) {
		if (!lport)
			known = 0;
		else if (!ebpf_port_in(lport_bits, lport))
			return -1;
	}
	if (filter_rport) {
		if (!rport)
			known = 0;
		else if (!ebpf_port_in(rport_bits, rport))
			return -1;
	}
	return known;
}

static __always_inline void report(struct trace_event_raw_inet_sock_set_state *ctx,
				   struct sock *sk, __u64 now, __u64 *since)
{
	struct event *e = ebpf_reserve(events, sizeof(*e));
	struct tcp_owner *o;

	if (!e)
		return; /* ring full: counted in events_drops */
	e->ts = now;
	e->skaddr = (__u64)sk;
	e->span_ns = since ? now - *since : 0;
	e->flags = since ? F_SPAN : 0;
	e->oldstate = ctx->oldstate;
	e->newstate = ctx->newstate;
	e->pad = 0;
	o = tcp_owner_lookup(sk);
	if (o) {
		e->pid = o->pid;
		e->owner = o->how;
		__builtin_memcpy(e->comm, o->comm, sizeof(e->comm));
	} else {
		e->pid = 0;
		e->owner = TCP_OWNER_NONE;
		__builtin_memset(e->comm, 0, sizeof(e->comm));
	}
	/* family, ports and addresses, from the tracepoint (ebpf/tcp.h) */
	TCP_FLOW_FROM_SET_STATE(e, ctx);
	ebpf_submit(events, e);
}

/* ---- Entry points ---- */

/* A change of a TCP socket of the family -4/-6 asks for (ebpf/tcp.h's
 * TCP_SET_STATE_PROGRAM below calls it: the program on
 * sock:inet_sock_set_state). */
static __always_inline void on_set_state(struct trace_event_raw_inet_sock_set_state *ctx,
					 struct sock *sk, int old, int new)
{
	__u64 key = (__u64)sk, now;
	__u16 family = ctx->family, lport = ctx->sport;
	__u64 *since;
	int wanted = ports_wanted(lport, ctx->dport);

	if (wanted < 0) {
		/* Not ours (any more): forget what its unknown-port changes left. */
		bpf_map_delete_elem(&entered, &key);
		tcp_owner_forget(sk);
		return;
	}

	/* Who owns it, as far as this change tells (tcp_owner.h). */
	tcp_owner_update(sk, family, lport, old, new);

	now = bpf_ktime_get_ns();
	since = bpf_map_lookup_elem(&entered, &key);
	/* The container filters read the socket's cgroup, not the current
	 * task's: most changes happen in softirq context. */
	if (wanted && ebpf_sock_container_allowed(sk))
		report(ctx, sk, now, since);

	if (new == TCP_CLOSE) {
		bpf_map_delete_elem(&entered, &key);
		tcp_owner_forget(sk);
	} else if (since) {
		*since = now; /* in place: an update would allocate a new element */
	} else {
		bpf_map_update_elem(&entered, &key, &now, BPF_NOEXIST);
	}
}

TCP_SET_STATE_PROGRAM(on_set_state)

/* sys_exit_accept4 and sys_exit_accept: the task accepting a connection owns
 * the server socket from then on (tcp_owner.h). */
TCP_OWNER_ACCEPT_PROGRAMS()

char LICENSE[] SEC("license") = "GPL";
