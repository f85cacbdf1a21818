// @ebpf/core/inet: TCP state names against the running kernel's own enum
// (bpf/include/vmlinux.h, generated from this machine's BTF).
import { readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import { TCP_OWNER, TCP_STATES, tcpOwnerSource, tcpStateName } from '../src/kernel/inet.js';

describe('TCP states', () => {
  it('each name is the kernel enum TCP_<name> with that number', () => {
    const vmlinux = readFileSync(new URL('../../../bpf/include/vmlinux.h', import.meta.url), 'utf8');
    for (let n = 1; n < TCP_STATES.length; n++) {
      const m = new RegExp(`\\bTCP_${TCP_STATES[n]} = (\\d+),`).exec(vmlinux);
      expect(m, TCP_STATES[n]).not.toBeNull();
      expect(Number(m![1])).toBe(n);
    }
  });

  it('tcpStateName: the name, or the number for a state the table lacks (as BCC)', () => {
    expect(tcpStateName(1)).toBe('ESTABLISHED');
    expect(tcpStateName(7)).toBe('CLOSE');
    expect(tcpStateName(12)).toBe('NEW_SYN_RECV');
    expect(tcpStateName(13)).toBe('13');
    expect(tcpStateName(0)).toBe('0');
  });
});

describe('TCP owners (bpf/include/ebpf/tcp_owner.h)', () => {
  it('TCP_OWNER is exactly the header\'s TCP_OWNER_* values', () => {
    const h = readFileSync(new URL('../../../bpf/include/ebpf/tcp_owner.h', import.meta.url), 'utf8');
    const defined = Object.fromEntries([...h.matchAll(/^#define TCP_OWNER_(?!MAX\b)([A-Z]+) (\d+)$/gm)].map((m) => [m[1], Number(m[2])]));
    expect(defined).toEqual(TCP_OWNER);
  });

  it('tcpOwnerSource names each value; anything else is unknown', () => {
    expect([TCP_OWNER.NONE, TCP_OWNER.TASK, TCP_OWNER.ACCEPT, TCP_OWNER.LISTENER, 9].map(tcpOwnerSource)).toEqual(['unknown', 'task', 'accept', 'listener', 'unknown']);
  });
});
