/* SPDX-License-Identifier: GPL-2.0 */
/*
 * inet_addr.h: a flow's two addresses out of a tracepoint record, for the TCP
 * tools (tcplife, tcpstates, tcpconnlat, tcpretrans; the sock:inet_sock_set_state and
 * tcp:tcp_* tracepoints carry the same four fields).
 *
 *   void ebpf_inet_addrs(__u16 family, __u8 laddr[16], __u8 raddr[16],
 *                        const void *saddr, const void *daddr,        (4 bytes each)
 *                        const void *saddr_v6, const void *daddr_v6)  (16 bytes each)
 *
 * AF_INET: the 4-byte fields into the first 4 bytes, the rest zeroed (the
 * tracepoints' IPv6 fields hold v4-mapped addresses then, not what the tools
 * print). Otherwise the 16-byte fields. User space formats them with
 * @ebpf/core/inet's formatAddress(family, bytes).
 *
 * Why a helper copies them: a plain copy (memcpy) out of a tracepoint
 * context compiles to loads through a pointer into the middle of the
 * context, which the verifier refuses ("dereference of modified ctx ptr").
 */
#ifndef __EBPF_INET_ADDR_H
#define __EBPF_INET_ADDR_H

#include "ebpf/common.h"

#ifndef AF_INET
#define AF_INET 2
#endif

static __always_inline void ebpf_inet_addrs(__u16 family, __u8 *laddr, __u8 *raddr,
					    const void *saddr, const void *daddr,
					    const void *saddr_v6, const void *daddr_v6)
{
	if (family == AF_INET) {
		__builtin_memset(laddr, 0, 16);
		__builtin_memset(raddr, 0, 16);
		bpf_probe_read_kernel(laddr, 4, saddr);
		bpf_probe_read_kernel(raddr, 4, daddr);
	} else {
		bpf_probe_read_kernel(laddr, 16, saddr_v6);
		bpf_probe_read_kernel(raddr, 16, daddr_v6);
	}
}

#endif /* __EBPF_INET_ADDR_H */
