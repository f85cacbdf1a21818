/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The cgroup an event belongs to, carried in the event: one u64, the id of
 * the task's cgroup in the cgroup v2 hierarchy. A tool puts
 *
 *	EBPF_CGROUP_ID_FIELD;	(in its struct event)
 *	e->cgroup_id = ebpf_current_cgroup_id();	(where it builds the event)
 *
 * and its TypeScript turns the decoded `cgroup_id` into the API's `cgroupId`
 * (a bigint). @ebpf/core's kit names the cgroup (CgroupPaths in
 * kit/container.ts: id to "/system.slice/foo.service"), so the per-event cost
 * is this one helper call here and a u64 in the record.
 *
 * What the id is. Every cgroup v2 directory is a kernfs node, and its id is
 * the node's id, which on 64-bit kernels is also the directory's inode number:
 * `stat -c %i /sys/fs/cgroup/system.slice` (or under /sys/fs/cgroup/unified
 * on a hybrid v1/v2 system) prints the id this helper returns for a task in
 * it. The root cgroup is 1. The helper reads the task's *default hierarchy*
 * cgroup (task->cgroups->dfl_cgrp), which exists whether or not cgroup2 is
 * mounted and whatever v1 controllers are also mounted: a task never moved in
 * v2 is in the root.
 *
 * Where to call it: in the context of the task the event belongs to (a
 * syscall, an exec, an exit, the sender of a signal). In an interrupt the
 * "current" task is whichever was running; a tool reporting another task
 * (a wakeup's target, an OOM victim) reads BPF_CORE_READ(task, cgroups,
 * dfl_cgrp, kn, id) instead.
 *
 * Ids are allocated cyclically (64-bit: the wrap-around goes into the upper
 * half), so a removed cgroup's id is not handed out again: an event whose
 * cgroup was removed before user space looked it up has an id nobody can
 * name any more, and user space reports it as unknown rather than guessing.
 */
#ifndef __EBPF_CGROUP_ID_H
#define __EBPF_CGROUP_ID_H

#include "ebpf/common.h"

/* The event's field: the cgroup v2 id of the task the event is about. A u64,
 * so put it beside the other 8-byte fields to keep the struct unpadded. */
#define EBPF_CGROUP_ID_FIELD __u64 cgroup_id

/* The current task's cgroup v2 id (kernel 4.18+; any program type that runs
 * in task context). */
static __always_inline __u64 ebpf_current_cgroup_id(void)
{
	return bpf_get_current_cgroup_id();
}

#endif /* __EBPF_CGROUP_ID_H */
