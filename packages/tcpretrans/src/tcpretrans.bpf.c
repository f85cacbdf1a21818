// SPDX-License-Identifier: GPL-2.0
//
// tcpretrans: one record per TCP retransmit, with the flow and the state of
// its socket.
//
// A lesson in the simplest kind of tool: one static tracepoint that already
// carries everything, and one record per hit. The kernel calls
// trace_tcp_retransmit_skb() in __tcp_retransmit_skb() each time it sends a
// segment again: after a retransmission timeout (RTO), fast retransmit on
// duplicate ACKs, a SYN or SYN-ACK that went unanswered, and a tail loss
// probe that resends the last segment. Its fields are the socket's address,
// its state, the family, both ports (already in host order: the tracepoint
// converts them) and both addresses.
//
// Context: retransmits mostly run from a timer or a packet arriving, in
// softirq context: the PID on the CPU there is whatever ran (often 0, the
// idle task), not the socket's user. BCC prints that PID; so does this tool.
//
// Only the record's first fields are read (the socket's address): their
// place never moved, while the rest did: the struct was renamed
// (tcp_event_sk_skb before 6.x, tcp_retransmit_skb since), `family` joined it
// in 5.11 and `err` at the end later. On 5.10, reading `family` from a 6.x
// layout reads the first byte of the address (127 on loopback). So the flow
// (family, ports, addresses, state) is read from the socket itself, through
// CO-RE, which is right on every kernel.
//
// Tail loss probes (BCC's -l): BCC kprobes tcp_send_loss_probe(); there is no
// tracepoint there, and this kernel has no kprobes. A probe that resends
// data goes through __tcp_retransmit_skb() and shows up here as a retransmit.
//
// Hook: tracepoint tcp:tcp_retransmit_skb.
#include "ebpf/common.h"
#include "ebpf/output.h"
#include "ebpf/tcp.h"         /* targ_family, the flow of a record read from a sock */
#include "ebpf/container.h"   /* --cgroup, --cgroupmap: ebpf_sock_container_allowed() */

/* ---- Load-time config (const volatile: .rodata, constants to the verifier) ---- */
/* -4 and -6: targ_family comes with ebpf/tcp.h. */

/* struct event.type: BCC's T column */
#define RETRANSMIT 1 /* R */
#define TLP 2        /* L */

/* The tracepoint's record: the common header, then the two pointers (see above). */
struct retransmit_ctx {
	__u64 common;
	const void *skbaddr;
	const void *skaddr;
};

/* What user space receives, once per retransmit. */
struct event {
	__u64 ts;       /* bpf_ktime_get_ns() */
	__u64 skaddr;   /* the socket's kernel address */
	__u32 pid;      /* on the CPU (BCC's PID column): not the socket's owner */
	__u16 family;
	__u16 lport;
	__u16 rport;
	__u8 state;     /* TCP_* */
	__u8 type;      /* RETRANSMIT or TLP */
	__u8 laddr[16]; /* IPv4: the first 4 bytes */
	__u8 raddr[16];
};
EBPF_EXPORT(event);

/* ---- Maps ---- */

EBPF_RINGBUF(events, 256 * 1024); /* user space may resize it before load */

/* ---- Entry point ---- */

SEC("tracepoint/tcp/tcp_retransmit_skb")
int tcp_retransmit_skb(struct retransmit_ctx *ctx)
{
	struct sock *sk = (struct sock *)ctx->skaddr;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	struct event *e;

	if (!tcp_family_wanted(family))
		return 0;
	/* Retransmits run from timers and softirqs: the socket's cgroup, not
	 * the current task's, says whose connection it is. */
	if (!ebpf_sock_container_allowed(sk))
		return 0;
	e = ebpf_reserve(events, sizeof(*e));
	if (!e)
		return 0; /* ring full: counted in events_drops */
	e->ts = bpf_ktime_get_ns();
	e->skaddr = (__u64)sk;
	e->pid = ebpf_current_tgid();
	e->state = BPF_CORE_READ(sk, __sk_common.skc_state);
	e->type = RETRANSMIT;
	/* family, ports and addresses, from the socket through CO-RE (ebpf/tcp.h) */
	TCP_FLOW_FROM_SOCK(e, sk, family);
	ebpf_submit(events, e);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
