/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Container filters, the same in every tool: --cgroup PATH, and BCC's
 * --cgroupmap MAP and --mntnsmap MAP. A tool includes this header and calls
 * ebpf_container_allowed() where it decides whether the current task's event
 * counts (beside its -p check); @ebpf/core's kit sets the knobs and hands over
 * the pinned maps before load, for every tool whose object has them.
 *
 * What a "container" is, to the kernel: nothing. A container runtime puts the
 * container's processes into their own cgroup (v2: one directory under
 * /sys/fs/cgroup) and their own namespaces (mount, pid, net...). So a filter
 * "by container" is a filter by one of those, and both are cheap to read from
 * BPF:
 *
 * - cgroup v2: bpf_get_current_cgroup_id() is the id of the current task's
 *   cgroup in the v2 hierarchy, the inode number of its directory. --cgroup
 *   PATH keeps the tasks in PATH's cgroup *or below it* (a container's runtime
 *   often makes child cgroups): bpf_get_current_ancestor_cgroup_id(level) is
 *   the id of the task's ancestor at PATH's depth, so one comparison answers
 *   "is the task under PATH?" (libbpf-tools' -c asks the same question with a
 *   BPF_MAP_TYPE_CGROUP_ARRAY and bpf_current_task_under_cgroup()).
 *
 * - BCC's --cgroupmap MAP: MAP is a BPF hash map, pinned in a bpffs by the
 *   user (or an orchestrator), keyed by u64 cgroup id. An event passes when
 *   the task's own cgroup id is a key of it, the value is not read. Entries
 *   can be added and removed while the tool runs: the map is shared.
 *
 * - BCC's --mntnsmap MAP: the same with the mount namespace's inode number
 *   (what `stat -L -c %i /proc/PID/ns/mnt` shows) as the u64 key.
 *
 * The maps below are placeholders: user space replaces them with the pinned
 * maps (libbpf's bpf_map__reuse_fd()) before load, so the program reads the
 * user's map itself. Unused, they stay one-entry maps that cost nothing, and
 * the `const volatile` knobs, known at load time, let the verifier remove
 * every filter that is off: a tool without a container flag pays nothing.
 */
#ifndef __EBPF_CONTAINER_H
#define __EBPF_CONTAINER_H

#include "ebpf/common.h"

const volatile __u64 ebpf_cgroup_id = 0;       /* --cgroup: the directory's cgroup id (0: off) */
const volatile __u32 ebpf_cgroup_level = 0;    /* --cgroup: its depth below the v2 root */
const volatile bool ebpf_filter_cgroupmap = false; /* --cgroupmap */
const volatile bool ebpf_filter_mntnsmap = false;  /* --mntnsmap */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, __u8);
} ebpf_cgroupmap SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, __u8);
} ebpf_mntnsmap SEC(".maps");

/* Is any container filter on? (A constant to the verifier.) */
static __always_inline bool ebpf_container_filtering(void)
{
	return ebpf_cgroup_id || ebpf_filter_cgroupmap || ebpf_filter_mntnsmap;
}

/* The inode number of the current task's mount namespace, as BCC reads it. */
static __always_inline __u64 ebpf_current_mntns(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	return BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
}

/*
 * Does the current task pass the container filters? Call it in process
 * context, where "current" is the task the event belongs to (a syscall, an
 * exec, a sleep): in an interrupt the current task is whoever was running.
 */
static __always_inline bool ebpf_container_allowed(void)
{
	__u64 key;

	if (ebpf_cgroup_id && bpf_get_current_ancestor_cgroup_id(ebpf_cgroup_level) != ebpf_cgroup_id)
		return false;
	if (ebpf_filter_cgroupmap) {
		key = bpf_get_current_cgroup_id();
		if (!bpf_map_lookup_elem(&ebpf_cgroupmap, &key))
			return false;
	}
	if (ebpf_filter_mntnsmap) {
		key = ebpf_current_mntns();
		if (!bpf_map_lookup_elem(&ebpf_mntnsmap, &key))
			return false;
	}
	return true;
}

/*
 * The cgroup filters for a cgroup read from a kernel structure (a task's
 * cgroup, a socket's): its id is its kernfs node's, and its ancestor at the
 * --cgroup directory's depth is cgroup->ancestors[level] (the cgroup itself
 * at its own level), which is what the helper above reads for "current".
 */
static __always_inline bool ebpf__cgroup_allowed(struct cgroup *cg)
{
	__u64 key;

	if (ebpf_cgroup_id) {
		struct cgroup *ancestor = NULL;

		if (!cg || BPF_CORE_READ(cg, level) < (int)ebpf_cgroup_level)
			return false;
		bpf_core_read(&ancestor, sizeof(ancestor), &cg->ancestors[ebpf_cgroup_level]);
		if (!ancestor || BPF_CORE_READ(ancestor, kn, id) != ebpf_cgroup_id)
			return false;
	}
	if (ebpf_filter_cgroupmap) {
		key = cg ? BPF_CORE_READ(cg, kn, id) : 0;
		if (!bpf_map_lookup_elem(&ebpf_cgroupmap, &key))
			return false;
	}
	return true;
}

/*
 * The same question for another task than the current one: the task a
 * wakeup is for (runqlat's sched_wakeup runs in the waker's context), an
 * OOM victim. Its v2 cgroup is task->cgroups->dfl_cgrp.
 */
static __always_inline bool ebpf_task_container_allowed(struct task_struct *task)
{
	__u64 key;

	if ((ebpf_cgroup_id || ebpf_filter_cgroupmap) && !ebpf__cgroup_allowed(BPF_CORE_READ(task, cgroups, dfl_cgrp)))
		return false;
	if (ebpf_filter_mntnsmap) {
		key = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
		if (!bpf_map_lookup_elem(&ebpf_mntnsmap, &key))
			return false;
	}
	return true;
}

/*
 * For a socket: the cgroup it was created in (sk->sk_cgrp_data; an accepted
 * socket inherits its listener's), readable in any context, so the TCP tools
 * filter state changes that happen in softirq context too. A socket has no
 * mount namespace: the TCP tools take --cgroup and --cgroupmap only (the
 * kit's socketContainerOptions).
 */
static __always_inline bool ebpf_sock_container_allowed(struct sock *sk)
{
	if (!ebpf_cgroup_id && !ebpf_filter_cgroupmap)
		return true;
	return ebpf__cgroup_allowed(BPF_CORE_READ(sk, sk_cgrp_data.cgroup));
}

#endif /* __EBPF_CONTAINER_H */
