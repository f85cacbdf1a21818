// BPF maps from user space: keys and values are bytes (Buffers) of the map's
// key and value sizes; typed views are up to the caller (generated decoders,
// or the small helpers below). Per-CPU maps hold one value per possible CPU,
// each rounded up to 8 bytes, as the kernel lays them out.
import type { NativeMapInfo } from '../native/binding.js';
import { ClosedError, EbpfError, UsageError } from '../errors.js';
import { nativeCode } from '../native/errno.js';
import { native } from '../native/load.js';

const PERCPU = new Set(['percpu_hash', 'percpu_array', 'lru_percpu_hash', 'percpu_cgroup_storage']);

export class BpfMap {
  readonly name: string;
  readonly type: string;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly fd: number;
  /** Bytes of one lookup result: valueSize, or per-CPU: roundup(valueSize, 8) × CPUs. */
  readonly valueBytes: number;
  readonly perCpu: boolean;
  #isClosed: () => boolean;
  #batchSupported: boolean | undefined;

  /** @internal use BpfObject.map() */
  constructor(info: NativeMapInfo, isClosed: () => boolean) {
    this.name = info.name;
    this.type = info.type;
    this.keySize = info.keySize;
    this.valueSize = info.valueSize;
    this.maxEntries = info.maxEntries;
    this.fd = info.fd;
    this.perCpu = PERCPU.has(info.type);
    this.valueBytes = this.perCpu ? Math.ceil(info.valueSize / 8) * 8 * native().possibleCpus() : info.valueSize;
    this.#isClosed = isClosed;
  }

  #check(key?: Buffer, value?: Buffer): void {
    if (this.#isClosed()) throw new ClosedError(`map ${this.name}`);
    if (key && key.length !== this.keySize) {
      throw new UsageError(`map ${this.name}: key is ${key.length} bytes, expected ${this.keySize}`);
    }
    if (value && value.length !== this.valueBytes) {
      throw new UsageError(`map ${this.name}: value is ${value.length} bytes, expected ${this.valueBytes}`);
    }
  }

  #call<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      const e = nativeCode(err);
      throw new EbpfError(`map ${this.name}: ${e.message}`, e.code, { cause: err });
    }
  }

  /** The value for `key`, or undefined when absent. */
  lookup(key: Buffer): Buffer | undefined {
    this.#check(key);
    const value = Buffer.alloc(this.valueBytes);
    return this.#call(() => native().mapLookup(this.fd, key, value)) ? value : undefined;
  }

  /** Looks up and removes in one step (queues, stacks, hashes on newer kernels). */
  lookupAndDelete(key: Buffer): Buffer | undefined {
    this.#check(key);
    const value = Buffer.alloc(this.valueBytes);
    return this.#call(() => native().mapLookupAndDelete(this.fd, key, value)) ? value : undefined;
  }

  /** flags: 0 any, 1 BPF_NOEXIST, 2 BPF_EXIST. */
  update(key: Buffer, value: Buffer, flags = 0): void {
    this.#check(key, value);
    this.#call(() => native().mapUpdate(this.fd, key, value, flags));
  }

  /** Returns false when the key was absent. */
  delete(key: Buffer): boolean {
    this.#check(key);
    return this.#call(() => native().mapDelete(this.fd, key));
  }

  /** Every key, by the kernel's iteration (get_next_key). */
  *keys(): Generator<Buffer> {
    this.#check();
    let prev: Buffer | null = null;
    for (;;) {
      const next = Buffer.alloc(this.keySize);
      if (!this.#call(() => native().mapNextKey(this.fd, prev, next))) return;
      yield next;
      prev = next;
    }
  }

  /**
   * Every [key, value] pair. Uses the kernel's batch lookup where the map type
   * supports it (one system call per `chunk` entries), else key iteration.
   */
  entries(chunk = 256): Array<[Buffer, Buffer]> {
    return this.#entries(chunk, false);
  }

  /**
   * Reads and removes every entry (batched where supported). Array entries
   * cannot be removed: they are read and zeroed, as clear() does.
   */
  drain(chunk = 256): Array<[Buffer, Buffer]> {
    return this.#entries(chunk, true);
  }

  #entries(chunk: number, andDelete: boolean): Array<[Buffer, Buffer]> {
    this.#check();
    const out: Array<[Buffer, Buffer]> = [];
    if (this.#batchSupported !== false && this.type !== 'array' && this.type !== 'percpu_array') {
      try {
        this.#batch(chunk, andDelete, out);
        this.#batchSupported = true;
        return out;
      } catch (err) {
        const code = (err as EbpfError).code;
        if (out.length || (code !== 'EINVAL' && code !== 'EOPNOTSUPP' && code !== 'ENOTSUPP' && code !== 'E524')) throw err;
        this.#batchSupported = false;
      }
    }
    for (const k of [...this.keys()]) {
      const v = andDelete ? this.#takeOne(k) : this.lookup(k);
      if (v) out.push([k, v]);
    }
    return out;
  }

  /**
   * Every entry, a batch at a time, without a Buffer per entry: yields
   * `count` keys and values packed in `keys` (keySize each) and `values`
   * (valueBytes each). The buffers are reused: read them before asking for
   * the next batch. For maps of many small entries (a million outstanding
   * allocations) this is several times faster than entries(). Uses the
   * kernel's batch lookup where the map type supports it, else key iteration.
   */
  *batches(chunk = 4096): Generator<{ keys: Buffer; values: Buffer; count: number }> {
    this.#check();
    if (this.#batchSupported !== false && this.type !== 'array' && this.type !== 'percpu_array') {
      const { mapLookupBatch } = native();
      let keys = Buffer.alloc(this.keySize * chunk);
      let values = Buffer.alloc(this.valueBytes * chunk);
      let inBatch: Buffer | null = null;
      const outBatch = Buffer.alloc(Math.max(this.keySize, 8));
      let first = true;
      for (;;) {
        let r: { count: number; done: boolean };
        try {
          r = this.#call(() => mapLookupBatch(this.fd, inBatch, outBatch, keys, values, chunk, false));
        } catch (err) {
          const code = (err as EbpfError).code;
          if (code === 'ENOSPC' && chunk < this.maxEntries) {
            chunk = Math.min(chunk * 2, this.maxEntries);
            keys = Buffer.alloc(this.keySize * chunk);
            values = Buffer.alloc(this.valueBytes * chunk);
            continue;
          }
          if (first && (code === 'EINVAL' || code === 'EOPNOTSUPP' || code === 'ENOTSUPP' || code === 'E524')) {
            this.#batchSupported = false;
            break;
          }
          throw err;
        }
        first = false;
        this.#batchSupported = true;
        if (r.count > 0) yield { keys, values, count: r.count };
        if (r.done) return;
        inBatch = Buffer.from(outBatch);
      }
    }
    const keys = Buffer.alloc(this.keySize * chunk);
    const values = Buffer.alloc(this.valueBytes * chunk);
    let count = 0;
    for (const k of [...this.keys()]) {
      const v = this.lookup(k);
      if (!v) continue;
      k.copy(keys, count * this.keySize);
      v.copy(values, count * this.valueBytes);
      if (++count === chunk) {
        yield { keys, values, count };
        count = 0;
      }
    }
    if (count > 0) yield { keys, values, count };
  }

  #takeOne(k: Buffer): Buffer | undefined {
    const v = this.lookup(k);
    if (!v) return v;
    if (this.type === 'array' || this.type === 'percpu_array') this.update(k, Buffer.alloc(this.valueBytes));
    else this.delete(k);
    return v;
  }

  #batch(chunk: number, andDelete: boolean, out: Array<[Buffer, Buffer]>): void {
    const { mapLookupBatch } = native();
    let keys = Buffer.alloc(this.keySize * chunk);
    let values = Buffer.alloc(this.valueBytes * chunk);
    let inBatch: Buffer | null = null;
    const outBatch = Buffer.alloc(Math.max(this.keySize, 8));
    for (;;) {
      let r: { count: number; done: boolean };
      try {
        r = this.#call(() => mapLookupBatch(this.fd, inBatch, outBatch, keys, values, chunk, andDelete));
      } catch (err) {
        // ENOSPC: the next hash bucket holds more entries than `chunk`. The
        // kernel read (and deleted) nothing, so retry with room for it.
        if ((err as EbpfError).code !== 'ENOSPC' || chunk >= this.maxEntries) throw err;
        chunk = Math.min(chunk * 2, this.maxEntries);
        keys = Buffer.alloc(this.keySize * chunk);
        values = Buffer.alloc(this.valueBytes * chunk);
        continue;
      }
      for (let i = 0; i < r.count; i++) {
        out.push([
          Buffer.from(keys.subarray(i * this.keySize, (i + 1) * this.keySize)),
          Buffer.from(values.subarray(i * this.valueBytes, (i + 1) * this.valueBytes)),
        ]);
      }
      if (r.done) return;
      inBatch = Buffer.from(outBatch);
    }
  }

  /** Removes every entry. */
  clear(): void {
    if (this.type === 'array' || this.type === 'percpu_array') {
      const zero = Buffer.alloc(this.valueBytes);
      const key = Buffer.alloc(4);
      for (let i = 0; i < this.maxEntries; i++) {
        key.writeUInt32LE(i);
        this.update(key, zero);
      }
      return;
    }
    for (const k of [...this.keys()]) this.delete(k);
  }

  /** The per-CPU slices of a per-CPU map value. */
  perCpuValues(value: Buffer): Buffer[] {
    const stride = Math.ceil(this.valueSize / 8) * 8;
    const n = value.length / stride;
    return Array.from({ length: n }, (_, i) => value.subarray(i * stride, i * stride + this.valueSize));
  }
}

/** A little-endian u32 key, as array maps and stack-id maps use. */
export function u32Key(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

/** A little-endian u64 key. */
export function u64Key(n: number | bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}
