/* SPDX-License-Identifier: GPL-2.0 */
/*
 * siginfo.h: what a signal's si_code says about where it came from, for the
 * tools that look at signals (sigsnoop, timemachine).
 *
 * A signal is either sent by a process, through a system call, or raised by
 * the kernel. si_code tells which (include/uapi/asm-generic/siginfo.h):
 *
 *   si_code <= 0  sent by a process (the kernel's SI_FROMUSER()):
 *                   SI_USER   kill(), and pidfd_send_signal() without siginfo
 *                   SI_TKILL  tkill(), tgkill()
 *                   SI_QUEUE  sigqueue() (rt_sigqueueinfo)
 *                   SI_TIMER, SI_MESGQ, SI_ASYNCIO, SI_SIGIO: set up by a
 *                   process, delivered later by the kernel
 *                 For the first three, _sifields._kill (_rt for sigqueue:
 *                 the same place) holds the sender's pid and uid.
 *   si_code > 0   raised by the kernel: a fault (SEGV_MAPERR, BUS_ADRALN...:
 *                 _sifields._sigfault._addr is the address that faulted),
 *                 a child's change (CLD_*), SI_KERNEL.
 *
 * The same union slot is read both ways, so a tool that prints "SIGSEGV at
 * address 0x..." must check si_code first: for a SIGSEGV sent by kill(),
 * that "address" is the sender's pid and uid side by side.
 */
#ifndef __EBPF_SIGINFO_H
#define __EBPF_SIGINFO_H

#define SI_USER 0
#define SI_QUEUE (-1)
#define SI_TKILL (-6)

/* True when a process sent the signal (si_code <= 0), false when the
 * kernel raised it. */
static __always_inline bool ebpf_si_sent(int si_code)
{
	return si_code <= 0;
}

/* True when _sifields._kill._pid is the sender's pid. */
static __always_inline bool ebpf_si_has_sender(int si_code)
{
	return si_code == SI_USER || si_code == SI_TKILL || si_code == SI_QUEUE;
}

#endif /* __EBPF_SIGINFO_H */
