// @ebpf/core/inet: TCP state names against the running kernel's own enum
// (bpf/include/vmlinux.h, generated from this machine's BTF).
import { readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import { TCP_STATES, tcpStateName } from '../src/kernel/inet.js';

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
