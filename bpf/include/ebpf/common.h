/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What every @ebpf tool's .bpf.c starts with: the kernel's types (vmlinux.h,
 * generated from this machine's BTF by bpf/build.mjs), libbpf's BPF-side helpers,
 * and two small conventions of this project.
 */
#ifndef __EBPF_COMMON_H
#define __EBPF_COMMON_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

/*
 * EBPF_EXPORT(event) makes `struct event` visible to user space: the compiler
 * only writes a type into the object's BTF when something global refers to it,
 * so this declares a pointer to it in a section libbpf ignores (no map, no
 * memory). bpf/build.mjs turns every type named this way into a TypeScript
 * interface and a decoder (src/<tool>.gen.ts), so no tool hand-writes offsets.
 */
#define EBPF_EXPORT(name) \
	struct name *__ebpf_type_##name __attribute__((section(".ebpf.types"), used))

/* The process (thread-group) id of the current task: the upper half. */
static __always_inline __u32 ebpf_current_tgid(void)
{
	return bpf_get_current_pid_tgid() >> 32;
}

/* The thread id of the current task: the lower half. */
static __always_inline __u32 ebpf_current_tid(void)
{
	return (__u32)bpf_get_current_pid_tgid();
}

/* The user id of the current task: the lower half of uid_gid. */
static __always_inline __u32 ebpf_current_uid(void)
{
	return (__u32)bpf_get_current_uid_gid();
}

#endif /* __EBPF_COMMON_H */
