// Shared by the sigsnoop tests: a tracer that collects events, and the C
// workload (test/c/sigwork.c), built once, that sends every kind of signal.
import { sigsnoop, type Delivery, type SignalEvent, type SignalSyscall, type SigsnoopOptions, type Tracer } from '../src/index.js';
import { collect, type Capture as EventCapture } from '../../../test/support/events.js';
import { compileC, run, start } from '../../../test/support/workload.js';

/** A running tracer and every event it has delivered so far. */
export type Capture = EventCapture<SignalEvent, Tracer<SignalEvent>>;

export function capture(opts: SigsnoopOptions = {}): Capture {
  return collect<SignalEvent, Tracer<SignalEvent>>(sigsnoop(opts));
}

/** The workload binary, compiled on first use. */
export function sigwork(): string {
  return compileC(new URL('./c/sigwork.c', import.meta.url), { flags: ['-pthread'] });
}

/** What `sigwork all` did: its PIDs and each step's return value. */
export interface Work {
  /** The workload process (the sender of every syscall). */
  pid: number;
  /** Children: a handles every signal it is sent, b ignores SIGUSR1, c blocks SIGUSR2, g1 and g2 share a process group. */
  a: number;
  b: number;
  c: number;
  g1: number;
  g2: number;
  /** A child reaped before the steps: a PID nothing has (kill() of it fails with ESRCH). */
  dead: number;
  /** The child that dies of SIGSEGV. */
  d: number;
  /** A second thread of the workload (its TID). */
  t: number;
  /** Every pid above. */
  all: number[];
  steps: Map<string, number>;
}

export type Pids = Pick<Work, 'pid' | 'a' | 'b' | 'c' | 'g1' | 'g2' | 'dead'>;

const parsePids = (line: string): Pids => {
  const [pid, a, b, c, g1, g2, dead] = line.split(' ').slice(1).map(Number) as [number, number, number, number, number, number, number];
  return { pid, a, b, c, g1, g2, dead };
};

/**
 * Runs `sigwork all` to the end. `ready` runs once its PIDs are known and
 * before it sends anything (e.g. to start tracers filtering on them).
 */
export async function runAll(ready: (pids: Pids) => void | Promise<void> = () => {}): Promise<Work> {
  const w = start(sigwork(), ['all'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let failed: unknown;
  try {
    await ready(parsePids(await w.line('pids ')));
  } catch (err) {
    failed = err;
  } finally {
    w.end('g');
  }
  const r = await w.done;
  if (failed) throw failed;
  if (r.code !== 0) throw new Error(`sigwork all exited ${r.code}: ${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  const { pid, a, b, c, g1, g2, dead } = parsePids(lines[0]!);
  const steps = new Map(lines.slice(1).map((l) => l.split(' ')).map(([k, v]) => [k!, Number(v)]));
  const d = steps.get('segv')!;
  const t = steps.get('thread')!;
  return { pid, a, b, c, g1, g2, dead, d, t, all: [pid, a, b, c, g1, g2, d], steps };
}

/** Runs `sigwork burst n`: n kill(child, SIGUSR1) in a tight loop. */
export async function runBurst(n: number): Promise<{ pid: number; child: number }> {
  const r = await run(sigwork(), ['burst', String(n)], { stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.code !== 0) throw new Error(`sigwork burst exited ${r.code}: ${r.stderr}`);
  const [pid, child] = r.stdout.trim().split('\n')[0]!.split(' ').slice(1).map(Number) as [number, number];
  return { pid, child };
}

/** The fields a test compares exactly (no timestamp, no tid: tid = pid here, single-threaded). */
export type Brief = Pick<SignalEvent, 'pid' | 'comm' | 'sig' | 'tpid' | 'syscall' | 'ret' | 'generated' | 'delivery' | 'code' | 'result'>;

export function brief(e: SignalEvent): Brief {
  return {
    pid: e.pid,
    comm: e.comm,
    sig: e.sig,
    tpid: e.tpid,
    syscall: e.syscall,
    ret: e.ret,
    generated: e.generated,
    delivery: e.delivery,
    code: e.code,
    result: e.result,
  };
}

// ---------------------------------------------------------------------------
// What `sigwork all` must produce, field by field (see test/c/sigwork.c).

export const SIGRTMIN = 34; // glibc's
export const CHILD = 'sigwork-child-o'; // "sigwork-child-of" as the kernel keeps it: 15 bytes

const sys = (syscall: SignalSyscall | null, sig: number, tpid: number, more: Partial<Brief> = {}): Brief => ({
  pid: 0, // filled in
  comm: 'sigwork',
  sig,
  tpid,
  syscall,
  ret: 0,
  generated: 1,
  delivery: 'delivered',
  code: syscall === 'tkill' || syscall === 'tgkill' ? -6 : 0,
  result: 0,
  ...more,
});

/** Every event the workload process sends, in order: one per syscall, then its SIGCHLD to us at exit. */
export function expectedFromWorkload(w: Work): Brief[] {
  const noSignal = { generated: 0, delivery: null };
  return [
    sys('kill', 10, w.a),
    sys('kill', 10, w.b, { delivery: 'ignored', result: 1 }),
    sys('kill', 15, w.dead, { ret: -3, ...noSignal, result: -3 }),
    sys('kill', 0, w.a, noSignal),
    sys('tkill', 12, w.a),
    sys('tgkill', SIGRTMIN + 1, w.a),
    sys('rt_sigqueueinfo', SIGRTMIN + 2, w.a, { code: -1 }),
    sys('rt_tgsigqueueinfo', SIGRTMIN + 3, w.a, { code: -1 }),
    sys('pidfd_send_signal', 10, w.a),
    sys('pidfd_send_signal', 10, 0, { ret: -9, ...noSignal, result: -9 }), // fd 0 is no pidfd: EBADF
    sys('kill', 12, w.c),
    sys('kill', 12, w.c, { delivery: 'already_pending', result: 2 }),
    sys('tkill', 12, w.c), // the thread's own pending set
    sys('tgkill', 12, w.c, { delivery: 'already_pending', result: 2 }), // returned 0
    sys('tgkill', 10, w.pid), // raise()
    sys('tgkill', 10, w.t), // tgkill(me, my other thread): TPID is the thread
    sys('kill', 12, -w.g1, { generated: 2 }), // one call, two processes: one event
    sys('kill', 9, w.a),
    sys('kill', 9, w.b),
    sys('kill', 9, w.c),
    sys('kill', 9, w.g1),
    sys('kill', 9, w.g2),
    // the kernel's SIGCHLD to this test process when the workload exits (CLD_EXITED; Node handles SIGCHLD)
    sys(null, 17, process.pid, { ret: null, code: 1 }),
  ].map((e) => ({ ...e, pid: w.pid }));
}

/** The kernel's own signals, sent from the children's context. */
export function expectedFromChildren(w: Work): Brief[] {
  const kernel = (pid: number, sig: number, tpid: number, code: number, delivery: Delivery, result: number): Brief => ({
    pid,
    comm: CHILD,
    sig,
    tpid,
    syscall: null,
    ret: null,
    generated: 1,
    delivery,
    code,
    result,
  });
  // SIGCHLD to the workload, whose SIGCHLD is at its default: the kernel
  // counts it ignored (result 1). CLD_KILLED is 2; SEGV_MAPERR 1.
  return [
    kernel(w.d, 11, w.d, 1, 'delivered', 0),
    kernel(w.d, 17, w.pid, 2, 'ignored', 1),
    ...[w.a, w.b, w.c, w.g1, w.g2].map((p) => kernel(p, 17, w.pid, 2, 'ignored', 1)),
  ];
}

