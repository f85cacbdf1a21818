// Shared by the javagc tests: the Java workload (compiled once, cached by the
// hash of its source), JVMs driven one round of System.gc() calls at a time,
// in this namespace or in a container-like mount + pid namespace, and a JDK
// copy whose libjvm.so has no USDT notes.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { javagc, type GcEvent, type JavagcOptions, type Tracer } from '../src/index.js';
import { collect, type Capture as EventCapture } from '../../../test/support/events.js';
import { DEADLINE } from '../../../test/support/wait.js';
import { Child } from '../../../test/support/workload.js';

/** System.gc() calls per round. */
export const GCS = 5;

/** Small heap (so the "grow" arithmetic is exact), quick start, no hsperfdata files. */
export const JAVA_OPTS = ['-XX:-UsePerfData', '-Xms16m', '-Xmx64m', '-XX:+UseG1GC', '-XX:TieredStopAtLevel=1'];

const SOURCE = fileURLToPath(new URL('./fixtures/GcLoop.java', import.meta.url));

/** The JDK `java` on PATH belongs to (its home: bin/java, lib/server/libjvm.so). */
export function javaHome(): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const java = join(dir, 'java');
    if (existsSync(java)) return dirname(dirname(realpathSync(java)));
  }
  throw new Error('no java on PATH: install a JDK (scripts/setup.sh installs openjdk-17-jdk-headless)');
}

/** Compiles GcLoop.java (once per source version); returns the class directory. */
export function gcLoopClasses(): string {
  const src = readFileSync(SOURCE);
  const hash = createHash('sha256').update(src).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), `ebpf-javagc-test-classes-${hash}`);
  if (existsSync(join(dir, 'GcLoop.class'))) return dir;
  const work = mkdtempSync(join(tmpdir(), 'ebpf-javagc-javac-'));
  execFileSync(join(javaHome(), 'bin', 'javac'), ['-d', work, SOURCE], { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    renameSync(work, dir);
  } catch {
    rmSync(work, { recursive: true, force: true }); // compiled meanwhile by another run
  }
  return dir;
}

/**
 * A copy of the JDK at `home` whose libjvm.so has no .note.stapsdt section: a
 * JVM "built without DTrace support". Only bin/java, libjli.so (the launcher
 * finds its home through libjli's real path) and libjvm.so are files; the
 * rest are links to the original.
 */
export function jdkWithoutProbes(home: string, dir: string): string {
  const copy = join(dir, 'jdk-nosdt');
  mkdirSync(join(copy, 'bin'), { recursive: true });
  mkdirSync(join(copy, 'lib', 'server'), { recursive: true });
  copyFileSync(join(home, 'bin', 'java'), join(copy, 'bin', 'java'));
  execFileSync('chmod', ['755', join(copy, 'bin', 'java')]);
  for (const e of readdirSync(home)) if (e !== 'bin' && e !== 'lib') symlinkSync(join(home, e), join(copy, e));
  for (const e of readdirSync(join(home, 'lib'))) {
    if (e === 'server') continue;
    if (e === 'libjli.so') copyFileSync(join(home, 'lib', e), join(copy, 'lib', e));
    else symlinkSync(join(home, 'lib', e), join(copy, 'lib', e));
  }
  for (const e of readdirSync(join(home, 'lib', 'server'))) {
    if (e !== 'libjvm.so') symlinkSync(join(home, 'lib', 'server', e), join(copy, 'lib', 'server', e));
  }
  execFileSync('objcopy', ['--remove-section', '.note.stapsdt', join(home, 'lib', 'server', 'libjvm.so'), join(copy, 'lib', 'server', 'libjvm.so')]);
  return copy;
}

export interface JvmOptions {
  /** The JDK to run (default: the one on PATH). */
  home?: string;
  /**
   * Run in new mount and pid namespaces, as in a container: the JDK is
   * bind-mounted on this directory (empty on the host), and the JVM is PID 1
   * of its namespace.
   */
  containerMount?: string;
}

/** A running GcLoop JVM, driven one round at a time. */
export class Jvm {
  readonly child: Child;
  /** The JVM's PID here (for a container JVM: not the unshare process). */
  pid = 0;

  private constructor(cmd: string, args: string[]) {
    this.child = new Child(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  }

  static async start(classes: string, opts: JvmOptions = {}): Promise<Jvm> {
    const home = opts.home ?? javaHome();
    let jvm: Jvm;
    if (opts.containerMount) {
      const java = [join(opts.containerMount, 'bin', 'java'), ...JAVA_OPTS, '-cp', classes, 'GcLoop', String(GCS)].join(' ');
      jvm = new Jvm('unshare', [
        '--mount', '--pid', '--fork', '--mount-proc', '--propagation', 'private',
        'sh', '-c', `mount --bind ${home} ${opts.containerMount} && exec ${java}`,
      ]);
    } else {
      jvm = new Jvm(join(home, 'bin', 'java'), [...JAVA_OPTS, '-cp', classes, 'GcLoop', String(GCS)]);
    }
    await jvm.child.expectNext('ready', DEADLINE.start);
    jvm.pid = opts.containerMount ? Jvm.#forkedChild(jvm.child.pid) : jvm.child.pid;
    return jvm;
  }

  /** The one child unshare --fork started (it exec'd the JVM). */
  static #forkedChild(pid: number): number {
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    if (kids.length !== 1) throw new Error(`unshare ${pid} has children [${kids.join(', ')}]`);
    return Number(kids[0]);
  }

  /**
   * Runs one round (GCS System.gc() calls after `command`); resolves once the
   * JVM says "done", with the monotonic clock just before and just after:
   * every GC of the round happened between the two.
   */
  async round(command: 'go' | 'grow' | 'drop' = 'go'): Promise<{ t0: bigint; t1: bigint }> {
    const t0 = process.hrtime.bigint();
    const line = await this.child.request(command, DEADLINE.start);
    const t1 = process.hrtime.bigint();
    if (line !== 'done') throw new Error(`JVM said ${line}`);
    return { t0, t1 };
  }

  /** Thread ids of the JVM's thread named `comm` (e.g. "VM Thread"): [ours, the JVM namespace's]. */
  thread(comm: string): { tid: number; nsTid: number } {
    for (const t of readdirSync(`/proc/${this.pid}/task`)) {
      try {
        if (readFileSync(`/proc/${this.pid}/task/${t}/comm`, 'utf8').trimEnd() !== comm) continue;
        const status = readFileSync(`/proc/${this.pid}/task/${t}/status`, 'utf8');
        const nsTid = Number(status.match(/^NSpid:\s*(.+)$/m)![1]!.trim().split(/\s+/).pop());
        return { tid: Number(t), nsTid };
      } catch {
        // thread gone meanwhile
      }
    }
    throw new Error(`JVM ${this.pid} has no thread ${comm}`);
  }

  /** Closes stdin (the JVM exits) and waits; SIGKILL after 5 s. */
  stop(): Promise<void> {
    return this.child.stop(5000);
  }
}

/** A running tracer and every event it has delivered so far. */
export type Capture = EventCapture<GcEvent, Tracer<GcEvent>>;

export function capture(opts: JavagcOptions): Capture {
  return collect<GcEvent, Tracer<GcEvent>>(javagc(opts));
}
