/* SPDX-License-Identifier: GPL-2.0 */
/*
 * port_filter.h: BCC's -L LPORTS and -D RPORTS, in the kernel, for the tools
 * that filter sockets by port (tcplife, tcpstates).
 *
 * It declares the load-time knobs (user space sets them with @ebpf/core/kit's
 * tcpFilterKnobs(), by these names):
 *
 *   const volatile bool filter_lport, filter_rport;    a list was given
 *   const volatile __u8 lport_bits[8192], rport_bits[8192];
 *
 * The ports to keep are bitmaps: bit p of the 8 KiB set means port p. One
 * array read per test, however many ports were asked for (a loop over a list
 * would cost a compare per port, and a map lookup more than the read).
 *
 *   bool ebpf_port_in(const volatile __u8 *bits, __u16 port)
 *     Whether `port` is in the set.
 *
 * What a port of 0 means (not known yet: connect() enters SYN_SENT before it
 * picks its local port; a listener has no remote port) is the tool's call.
 */
#ifndef __EBPF_PORT_FILTER_H
#define __EBPF_PORT_FILTER_H

const volatile bool filter_lport = false;
const volatile bool filter_rport = false;
const volatile __u8 lport_bits[8192] = {};
const volatile __u8 rport_bits[8192] = {};

static __always_inline bool ebpf_port_in(const volatile __u8 *bits, __u16 port)
{
	return bits[port >> 3] & (1 << (port & 7));
}

#endif /* __EBPF_PORT_FILTER_H */
