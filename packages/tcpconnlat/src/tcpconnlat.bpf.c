// SPDX-License-Identifier: GPL-2.0
//
// tcpconnlat: the latency of each active TCP connect, from the SYN sent to
// the handshake's answer, and the process that called connect().
//
// A lesson in timing a span between two moves of one state machine, from one
// tracepoint. Every TCP state change is reported on sock:inet_sock_set_state
// with the socket's kernel address (`skaddr`), the old and new state, the
// family, ports and addresses. An active open is two moves:
//
//   CLOSE -> SYN_SENT        inside connect(): the SYN is about to go out
//   SYN_SENT -> ESTABLISHED  the SYN-ACK arrived (softirq context)
//
// So: at the first move, remember (by socket address) the time and who is
// connecting; at the second, the difference is the connect latency. BCC
// times the same span with two kprobes (tcp_v4_connect's entry and
// tcp_rcv_state_process in SYN_SENT); this kernel has no kprobes, and the
// tracepoint is a stable interface that needs no update when those
// functions change.
//
// Who connected: CLOSE -> SYN_SENT happens inside the connect() system call,
// with the socket locked by its caller (tcp_owner.h's tcp_current_owns()), so
// the task on the CPU there *is* the caller. The second move runs in softirq
// context, on behalf of whichever task the CPU was running (the sender of
// the SYN-ACK over loopback; after a dropped SYN, the retransmit timer's
// softirq on any task): the owner must be remembered at the first move,
// never read at the second.
//
// Quirk: at CLOSE -> SYN_SENT the local port is still 0 (tcp_v4_connect()
// sets the state before inet_hash_connect() picks the port), so ports and
// addresses are taken at the second move, where they are all known.
//
// A connect answered by an RST (nothing listens there) ends SYN_SENT ->
// CLOSE; BCC reports it too (its end point is the first answer, whatever it
// is). The state change does not say why the socket closed, so a second
// tracepoint, tcp:tcp_receive_reset, marks the connect first. A connect that
// ends another way (timed out, closed by its owner) forgets its entry and
// prints nothing: it had no answer.
//
// Hooks: tracepoints sock:inet_sock_set_state and tcp:tcp_receive_reset.
#include "ebpf/common.h"
#include "ebpf/output.h"
#include "ebpf/tcp_owner.h"
#include "ebpf/tcp.h"         /* targ_family, TCP_SOCK_MAP, the flow of a record */
#include "ebpf/container.h"   /* --cgroup, --cgroupmap: ebpf_sock_container_allowed() */

/* ---- Load-time config (const volatile: .rodata, constants to the verifier) ---- */
const volatile __u32 targ_tgid = 0;   /* -p: only connects by this process (0: all) */
const volatile __u64 min_ns = 0;      /* min_ms: only latencies of at least this */
/* -4 and -6: targ_family comes with ebpf/tcp.h. */

/* What user space receives, once per connect answered. */
struct event {
	__u64 ts;       /* bpf_ktime_get_ns() at the answer */
	__u64 lat_ns;   /* SYN_SENT -> ESTABLISHED, or -> CLOSE after an RST */
	__u32 pid;      /* the process that called connect() */
	__u16 family;   /* AF_INET or AF_INET6 */
	__u16 lport;
	__u16 rport;    /* BCC's DPORT */
	__u8 refused;   /* the answer was an RST (the connect failed) */
	__u8 pad;
	__u32 pad2;
	__u8 laddr[16]; /* BCC's SADDR; IPv4: the first 4 bytes */
	__u8 raddr[16]; /* BCC's DADDR */
	char comm[16];
};
EBPF_EXPORT(event);

/* ---- Maps ---- */

/* A connect in flight: when it entered SYN_SENT, and who called connect(). */
struct pending {
	__u64 ts;
	struct tcp_owner who;
	__u32 reset; /* tcp:tcp_receive_reset saw an RST for it */
};

/* tcp:tcp_receive_reset's record: only the socket is read (8 bytes of
 * common header first; the layout has been stable since 4.15). */
struct receive_reset_ctx {
	__u64 common;
	const void *skaddr;
};

/* Connects in flight, by socket address (ebpf/tcp.h: 65536 at once, not
 * preallocated); an entry lives for one handshake. */
TCP_SOCK_MAP(start, struct pending);

EBPF_RINGBUF(events, 256 * 1024); /* user space may resize it before load */

/* ---- Helpers ---- */

static __always_inline void report(struct trace_event_raw_inet_sock_set_state *ctx,
				   struct pending *p, __u64 now)
{
	struct event *e;

	e = ebpf_reserve(events, sizeof(*e));
	if (!e)
		return; /* ring full: counted in events_drops */
	e->ts = now;
	e->lat_ns = now - p->ts;
	e->pid = p->who.pid;
	e->pad = 0;
	e->pad2 = 0;
	__builtin_memcpy(e->comm, p->who.comm, sizeof(e->comm));
	e->refused = p->reset;
	/* family, ports and addresses, taken here where all are known (ebpf/tcp.h) */
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
	struct pending *p;

	if (new == TCP_SYN_SENT) {
		/* connect(): the caller holds the socket. (A SYN_SENT entered
		 * outside a system call would name a bystander: not timed.) */
		struct pending np = {};

		if (!tcp_current_owns(sk))
			return;
		tcp_owner_current(&np.who, TCP_OWNER_TASK);
		if (targ_tgid && np.who.pid != targ_tgid)
			return;
		if (!ebpf_sock_container_allowed(sk))
			return;
		np.ts = bpf_ktime_get_ns();
		bpf_map_update_elem(&start, &key, &np, BPF_ANY);
		return;
	}
	if (old != TCP_SYN_SENT)
		return; /* the common case: one compare, no map access */

	p = bpf_map_lookup_elem(&start, &key);
	if (!p)
		return; /* connect() before tracing began, or filtered out */
	now = bpf_ktime_get_ns();
	if ((new == TCP_ESTABLISHED || (new == TCP_CLOSE && p->reset)) && now - p->ts >= min_ns)
		report(ctx, p, now);
	bpf_map_delete_elem(&start, &key);
}

TCP_SET_STATE_PROGRAM(on_set_state)

/* An RST arrived: tcp_reset() calls this tracepoint, then moves the socket to
 * CLOSE. For a connect in flight the RST is its answer (the port is closed):
 * mark it, and the SYN_SENT -> CLOSE that follows is reported, as BCC
 * reports a connect answered by an RST. */
SEC("tracepoint/tcp/tcp_receive_reset")
int tcp_receive_reset(struct receive_reset_ctx *ctx)
{
	__u64 key = (__u64)ctx->skaddr;
	struct pending *p = bpf_map_lookup_elem(&start, &key);

	if (p)
		p->reset = 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
