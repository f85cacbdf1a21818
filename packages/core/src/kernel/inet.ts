// Network addresses from event bytes, printed as the classic tools print them
// (subpath `@ebpf/core/inet`). BCC's Python tools call socket.inet_ntop(),
// i.e. glibc's inet_ntop(): dotted quads for IPv4; for IPv6 lowercase hex
// groups, the longest run of two or more zero groups (the first, on a tie)
// written "::", and IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible
// (::a.b.c.d) addresses with a dotted tail. Pure functions, no dependencies.

export const AF_INET = 2;
export const AF_INET6 = 10;

/** The kernel's address family for an IP version (0: either). */
export const addressFamily = (v: 4 | 6 | undefined): number => (v === 4 ? AF_INET : v === 6 ? AF_INET6 : 0);

/** An 8 KiB bitmap of ports (bit p = port p), the form BPF programs test a port list in. */
export function portBits(list: readonly number[] | undefined): Uint8Array | undefined {
  if (!list) return undefined;
  const bits = new Uint8Array(8192);
  for (const p of list) bits[p >> 3]! |= 1 << (p & 7);
  return bits;
}

/**
 * TCP states by number (include/net/tcp_states.h), named as BCC's tools
 * print them (tcpstates, tcpretrans): TCP_ without its prefix.
 */
export const TCP_STATES: readonly string[] = [
  '', 'ESTABLISHED', 'SYN_SENT', 'SYN_RECV', 'FIN_WAIT1', 'FIN_WAIT2', 'TIME_WAIT', 'CLOSE',
  'CLOSE_WAIT', 'LAST_ACK', 'LISTEN', 'CLOSING', 'NEW_SYN_RECV',
];

/** A TCP state's name; a state this table does not know is its number (as BCC prints it). */
export const tcpStateName = (state: number): string => TCP_STATES[state] || String(state);

/**
 * How a TCP tool found a socket's owner: the TCP_OWNER_* values of
 * bpf/include/ebpf/tcp_owner.h (the sock -> process attribution the TCP
 * tools share), which their records carry.
 */
export const TCP_OWNER = { NONE: 0, TASK: 1, ACCEPT: 2, LISTENER: 3 } as const;

/**
 * The owner's source, by name: `task`, the last task that changed the
 * socket's state in a system call (connect, listen, shutdown, close);
 * `accept`, the task that accept()ed it; `listener`, the task that listen()ed
 * on its port; `unknown` (pid 0).
 */
export type TcpOwnerSource = 'task' | 'accept' | 'listener' | 'unknown';

const OWNER_SOURCES: readonly TcpOwnerSource[] = ['unknown', 'task', 'accept', 'listener'];

/** A TCP_OWNER_* value's name. */
export const tcpOwnerSource = (how: number): TcpOwnerSource => OWNER_SOURCES[how] ?? 'unknown';

/** `a.b.c.d` from 4 bytes at `offset`. */
export function formatIPv4(b: Uint8Array, offset = 0): string {
  return `${b[offset]}.${b[offset + 1]}.${b[offset + 2]}.${b[offset + 3]}`;
}

/** An IPv6 address from 16 bytes at `offset`, exactly as glibc's inet_ntop(AF_INET6). */
export function formatIPv6(b: Uint8Array, offset = 0): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((b[offset + 2 * i]! << 8) | b[offset + 2 * i + 1]!);
  // The longest run of zero groups (the first one on a tie), if at least 2 long.
  let bestBase = -1;
  let bestLen = 0;
  let curBase = -1;
  let curLen = 0;
  for (let i = 0; i <= 8; i++) {
    if (i < 8 && words[i] === 0) {
      if (curBase < 0) {
        curBase = i;
        curLen = 1;
      } else {
        curLen++;
      }
    } else if (curBase >= 0) {
      if (curLen > bestLen) {
        bestBase = curBase;
        bestLen = curLen;
      }
      curBase = -1;
    }
  }
  if (bestLen < 2) bestBase = -1;
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (bestBase >= 0 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) out += ':';
      continue;
    }
    if (i !== 0) out += ':';
    // ::a.b.c.d (compatible) and ::ffff:a.b.c.d (mapped) keep a dotted tail.
    if (i === 6 && bestBase === 0 && (bestLen === 6 || (bestLen === 5 && words[5] === 0xffff))) {
      return out + formatIPv4(b, offset + 12);
    }
    out += words[i]!.toString(16);
  }
  if (bestBase >= 0 && bestBase + bestLen === 8) out += ':';
  return out;
}

/** An address of `family` (AF_INET: the first 4 bytes; AF_INET6: 16 bytes). */
export function formatAddress(family: number, b: Uint8Array, offset = 0): string {
  if (family === AF_INET) return formatIPv4(b, offset);
  if (family === AF_INET6) return formatIPv6(b, offset);
  throw new RangeError(`unknown address family ${family}`);
}
