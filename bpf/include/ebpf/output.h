/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Shared BPF-side helpers for sending records to user space through a BPF ring
 * buffer, the way every @ebpf tool does it.
 *
 * Two things the bare helpers do not give you:
 *
 * 1. Drops are counted. bpf_ringbuf_reserve()/bpf_ringbuf_output() fail when the
 *    ring is full, and only the BPF program can see that. EBPF_RINGBUF() declares,
 *    next to the ring, a global `<name>_drops` in .bss; every failed reservation
 *    adds one to it, and @ebpf/core reads it (the .bss is memory-mapped, so reading
 *    costs no system call) and reports it, like the classic tools' "lost events".
 *
 * 2. Wake-ups are batched. By default every submit wakes the reader, and under an
 *    event storm those wake-ups cost the traced program more than the tracing does.
 *    Here a submit only wakes the reader once the ring holds at least
 *    `ebpf_wakeup_bytes` of unread data; @ebpf/core's reader also drains the ring on
 *    a short timer, so a lone event still reaches the screen quickly.
 *    @ebpf/core sets ebpf_wakeup_bytes before load (a quarter of the ring by default;
 *    0 means "wake on every record").
 *
 * Usage:
 *   EBPF_RINGBUF(events, 1 << 20);             // map `events` + counter `events_drops`
 *   struct event *e = ebpf_reserve(events, sizeof(*e));
 *   if (!e) return 0;                          // counted as a drop
 *   ...fill e...
 *   ebpf_submit(events, e);
 *
 *   ebpf_output(events, buf, len);             // copy a variable-length record
 */
#ifndef __EBPF_OUTPUT_H
#define __EBPF_OUTPUT_H

#include <bpf/bpf_helpers.h>

/* Set by @ebpf/core before load; see above. */
const volatile __u64 ebpf_wakeup_bytes = 0;

#define EBPF_RINGBUF(name, bytes)                                \
	struct {                                                 \
		__uint(type, BPF_MAP_TYPE_RINGBUF);              \
		__uint(max_entries, (bytes));                    \
	} name SEC(".maps");                                     \
	__u64 name##_drops = 0

/* Wake the reader only when enough unread data has piled up. */
static __always_inline __u64 ebpf__wakeup_flag(void *ring)
{
	if (!ebpf_wakeup_bytes)
		return 0; /* kernel default: wake on every record */
	if (bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA) >= ebpf_wakeup_bytes)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

static __always_inline void *ebpf__reserve(void *ring, __u64 *drops, __u64 size)
{
	void *rec = bpf_ringbuf_reserve(ring, size, 0);

	if (!rec)
		__sync_fetch_and_add(drops, 1);
	return rec;
}

static __always_inline long ebpf__output(void *ring, __u64 *drops, void *data, __u64 size)
{
	long err = bpf_ringbuf_output(ring, data, size, ebpf__wakeup_flag(ring));

	if (err)
		__sync_fetch_and_add(drops, 1);
	return err;
}

#define ebpf_reserve(ring, size) ebpf__reserve(&ring, &ring##_drops, (size))
#define ebpf_submit(ring, rec) bpf_ringbuf_submit((rec), ebpf__wakeup_flag(&ring))
#define ebpf_discard(ring, rec) bpf_ringbuf_discard((rec), 0)
#define ebpf_output(ring, data, size) ebpf__output(&ring, &ring##_drops, (data), (size))

#endif /* __EBPF_OUTPUT_H */
