// What a process holds of BPF, from /proc/PID/fd: the census tests take
// before and after a tracer's life, and the way to tell that a CLI has
// attached when it prints nothing. (Not a test file.)
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export type Pid = number | 'self';

/** The targets of a process's fds (fd number → link text); [] once the process is gone. */
function fdTargets(pid: Pid): Array<[string, string]> {
  let names: string[];
  try {
    names = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return [];
  }
  const out: Array<[string, string]> = [];
  for (const name of names) {
    try {
      out.push([name, readlinkSync(`/proc/${pid}/fd/${name}`)]);
    } catch {
      // closed meanwhile (readdir's own fd)
    }
  }
  return out;
}

export interface BpfFd {
  fd: number;
  kind: 'prog' | 'link' | 'map' | 'btf';
  /** prog_id, link_id or map_id from fdinfo (-1 for BTF). */
  id: number;
}

/**
 * BPF object fds of a process. The kernel names them anon_inode:bpf-prog,
 * anon_inode:bpf-map, anon_inode:btf and anon_inode:bpf_link (underscore).
 */
export function bpfFds(pid: Pid = 'self'): BpfFd[] {
  const out: BpfFd[] = [];
  for (const [name, target] of fdTargets(pid)) {
    const m = target.match(/^anon_inode:(?:bpf[-_](prog|link|map)|(btf))$/);
    if (!m) continue;
    let info: string;
    try {
      info = readFileSync(`/proc/${pid}/fdinfo/${name}`, 'utf8');
    } catch {
      continue; // closed meanwhile
    }
    const kind = (m[1] ?? m[2]) as BpfFd['kind'];
    const id = info.match(new RegExp(`^${kind}_id:\\s*(\\d+)`, 'm'));
    out.push({ fd: Number(name), kind, id: id ? Number(id[1]) : -1 });
  }
  return out;
}

/**
 * The link texts of a process's fds that belong to BPF (maps, programs,
 * links, BTF and perf events), sorted: equal before and after a tracer's
 * life when it freed everything.
 */
export function bpfFdTargets(pid: Pid = 'self'): string[] {
  return fdTargets(pid)
    .map(([, target]) => target)
    .filter((t) => /^anon_inode:(bpf|btf|\[perf_event\])/.test(t))
    .sort();
}

/** How many BPF links a process holds (one per attached program). */
export function bpfLinks(pid: Pid = 'self'): number {
  return fdTargets(pid).filter(([, t]) => t === 'anon_inode:bpf_link').length;
}

/** Open perf event fds of a process (perf buffers, perf_event links, tracepoint and uprobe links). */
export function perfEventFds(pid: Pid = 'self'): number {
  return fdTargets(pid).filter(([, t]) => t === 'anon_inode:[perf_event]').length;
}

/** Memory mappings of BPF maps (global sections, ring buffers) in a process. */
export function bpfMappings(pid: Pid = 'self'): string[] {
  return readFileSync(`/proc/${pid}/maps`, 'utf8')
    .split('\n')
    .filter((l) => l.includes('anon_inode:bpf'));
}
