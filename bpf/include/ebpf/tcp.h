/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tcp.h: what the TCP tools (tcplife, tcpstates, tcpconnlat, tcpretrans)
 * share on the kernel side: the -4/-6 knob, the per-socket map, the filter
 * every sock:inet_sock_set_state program starts with, and how a record gets
 * its flow (family, both ports, both addresses).
 *
 * INTERFACE
 *
 *   const volatile __u16 targ_family;
 *     -4 / -6: AF_INET or AF_INET6, 0 for both. User space sets it by this
 *     name (@ebpf/core/kit's tcpFamilyKnob() and tcpFilterKnobs()).
 *
 *   TCP_SOCK_MAP(name, value_type);
 *     A hash map keyed by a socket's kernel address (__u64), for what a tool
 *     remembers about a socket between two of its state changes. 65536
 *     sockets at once; not preallocated, so its memory follows the number of
 *     live entries, not the limit. The tool deletes each entry when its
 *     socket reaches TCP_CLOSE, so the map holds live sockets only.
 *
 *   bool tcp_family_wanted(__u16 family)
 *     Whether -4/-6 keeps this family.
 *
 *   bool tcp_set_state_wanted(struct trace_event_raw_inet_sock_set_state *ctx)
 *     The first test of every sock:inet_sock_set_state program: a TCP socket
 *     (the tracepoint also reports SCTP and MPTCP sockets, which are not
 *     tcp_socks) of a family -4/-6 keeps.
 *
 *   TCP_SET_STATE_PROGRAM(handler)
 *     Defines the program on sock:inet_sock_set_state (write it once, at file
 *     scope, after the handler), which calls
 *       static __always_inline void handler(struct trace_event_raw_inet_sock_set_state *ctx,
 *                                           struct sock *sk, int oldstate, int newstate)
 *     for the changes tcp_set_state_wanted() keeps. sk is the socket
 *     (ctx->skaddr): its address is also the key of a TCP_SOCK_MAP.
 *
 *   TCP_FLOW_FROM_SET_STATE(e, ctx)
 *   TCP_FLOW_FROM_SOCK(e, sk, family)
 *     Fill a record's flow: any record (struct event) with the fields
 *       __u16 family, lport, rport;  __u8 laddr[16], raddr[16];
 *     (IPv4: the address's first 4 bytes, the rest zeroed). User space turns
 *     them into the API's fields with @ebpf/core/kit's tcpFlow(). Macros, not
 *     functions, so that each tool keeps its own struct event: the fields are
 *     found by name, wherever the tool placed them.
 *     _FROM_SET_STATE reads the tracepoint's own fields (already host order).
 *     _FROM_SOCK reads the socket itself through CO-RE: for tracepoints whose
 *     record layout moved between kernels (tcp:tcp_retransmit_skb), since
 *     struct sock_common's fields are found by name on every kernel.
 */
#ifndef __EBPF_TCP_H
#define __EBPF_TCP_H

#include "ebpf/common.h"
#include <bpf/bpf_endian.h>
#include "ebpf/inet_addr.h"

const volatile __u16 targ_family = 0; /* AF_INET or AF_INET6 (0: both) */

#define TCP_SOCK_MAP_MAX 65536

#define TCP_SOCK_MAP(name, value_type)                   \
	struct {                                         \
		__uint(type, BPF_MAP_TYPE_HASH);         \
		__uint(max_entries, TCP_SOCK_MAP_MAX);   \
		__uint(map_flags, BPF_F_NO_PREALLOC);    \
		__type(key, __u64);                      \
		__type(value, value_type);               \
	} name SEC(".maps")

static __always_inline bool tcp_family_wanted(__u16 family)
{
	/* targ_family is a constant to the verifier (.rodata): with 0 this
	 * whole test is pruned away at load time. */
	return !targ_family || family == targ_family;
}

static __always_inline bool tcp_set_state_wanted(struct trace_event_raw_inet_sock_set_state *ctx)
{
	return ctx->protocol == IPPROTO_TCP && tcp_family_wanted(ctx->family);
}

/* One tracepoint sees every state change of every socket: no kprobes needed.
 * The states are include/net/tcp_states.h's (TCP_ESTABLISHED ... in vmlinux.h). */
#define TCP_SET_STATE_PROGRAM(handler)                                                   \
	SEC("tracepoint/sock/inet_sock_set_state")                                       \
	int inet_sock_set_state(struct trace_event_raw_inet_sock_set_state *ctx)         \
	{                                                                                \
		if (tcp_set_state_wanted(ctx))                                           \
			handler(ctx, (struct sock *)ctx->skaddr, ctx->oldstate, ctx->newstate); \
		return 0;                                                                \
	}

/* Addresses go through ebpf_inet_addrs() (inet_addr.h): the verifier refuses
 * a plain copy out of the middle of a tracepoint context. */
#define TCP_FLOW_FROM_SET_STATE(e, ctx)                                                  \
	do {                                                                             \
		(e)->family = (ctx)->family;                                             \
		(e)->lport = (ctx)->sport;                                               \
		(e)->rport = (ctx)->dport;                                               \
		ebpf_inet_addrs((ctx)->family, (e)->laddr, (e)->raddr, (ctx)->saddr,     \
				(ctx)->daddr, (ctx)->saddr_v6, (ctx)->daddr_v6);         \
	} while (0)

/* `family`: the socket's skc_family, which the tool has read already to filter
 * on it. skc_num is the local port in host order; skc_dport is in network
 * order. */
#define TCP_FLOW_FROM_SOCK(e, sk, family_)                                               \
	do {                                                                             \
		(e)->family = (family_);                                                 \
		(e)->lport = BPF_CORE_READ(sk, __sk_common.skc_num);                     \
		(e)->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));        \
		ebpf_inet_addrs((family_), (e)->laddr, (e)->raddr,                       \
				&(sk)->__sk_common.skc_rcv_saddr, &(sk)->__sk_common.skc_daddr, \
				&(sk)->__sk_common.skc_v6_rcv_saddr, &(sk)->__sk_common.skc_v6_daddr); \
	} while (0)

#endif /* __EBPF_TCP_H */
