// SPDX-License-Identifier: GPL-2.0
// Test programs for @ebpf/core: one of each hook kind this kernel supports,
// a ring buffer and a perf buffer fed by getppid() (Node calls getppid() each
// time `process.ppid` is read), and maps of a few kinds.
#include "ebpf/common.h"
#include "ebpf/output.h"
#include <bpf/usdt.bpf.h>

const volatile __u32 targ_tgid = 0;   /* only the test process */
const volatile __u64 magic = 0;       /* copied into every event: tests rodata config */

/* Hit counters per hook kind, read from .bss by the tests. */
__u64 hits_tracepoint = 0;
__u64 hits_raw_tp = 0;
__u64 hits_tp_btf = 0;
__u64 hits_tp_btf_getppid = 0;   /* the target's getppid() calls seen by tp_btf */
__u64 hits_uprobe = 0;
__u64 hits_uretprobe = 0;
__u64 hits_usdt = 0;
__u64 usdt_arg_sum = 0;
__u64 hits_perf_event = 0;
__u64 seq = 0;

struct event {
	__u64 seq;
	__u64 magic;
	__u32 tgid;
	char comm[16];
};
EBPF_EXPORT(event);

EBPF_RINGBUF(events, 16 * 1024);

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} perf_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} array SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} percpu SEC(".maps");

static __always_inline bool is_target(void)
{
	return ebpf_current_tgid() == targ_tgid;
}

static __always_inline void fill(struct event *e)
{
	e->seq = __sync_fetch_and_add(&seq, 1);
	e->magic = magic;
	e->tgid = ebpf_current_tgid();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int getppid_ring(void *ctx)
{
	struct event *e;

	if (!is_target())
		return 0;
	__sync_fetch_and_add(&hits_tracepoint, 1);
	e = ebpf_reserve(events, sizeof(*e));
	if (!e)
		return 0;
	fill(e);
	ebpf_submit(events, e);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int getppid_perf(void *ctx)
{
	struct event e = {};

	if (!is_target())
		return 0;
	fill(&e);
	bpf_perf_event_output(ctx, &perf_events, BPF_F_CURRENT_CPU, &e, sizeof(e));
	return 0;
}

/* Counts the target's getppid() calls in a hash keyed by syscall id. */
SEC("raw_tp/sys_enter")
int raw_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 id = ctx->args[1];
	__u64 one = 1, *v;

	if (!is_target())
		return 0;
	__sync_fetch_and_add(&hits_raw_tp, 1);
	v = bpf_map_lookup_elem(&hash, &id);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&hash, &id, &one, BPF_NOEXIST);
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(btf_sys_enter, struct pt_regs *regs, long id)
{
	if (!is_target())
		return 0;
	__sync_fetch_and_add(&hits_tp_btf, 1);
	if (id == 110) /* __NR_getppid on x86_64 */
		__sync_fetch_and_add(&hits_tp_btf_getppid, 1);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(on_uprobe, int arg)
{
	__sync_fetch_and_add(&hits_uprobe, 1);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(on_uretprobe, int ret)
{
	__sync_fetch_and_add(&hits_uretprobe, 1);
	return 0;
}

SEC("usdt")
int BPF_USDT(on_usdt, long arg)
{
	__sync_fetch_and_add(&hits_usdt, 1);
	__sync_fetch_and_add(&usdt_arg_sum, arg);
	return 0;
}

SEC("perf_event")
int on_perf_event(void *ctx)
{
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(&percpu, &zero);

	if (v)
		*v += 1;
	__sync_fetch_and_add(&hits_perf_event, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
