// Histograms kept in BPF maps, read by user space interval after interval.
//
// The classic way (BCC) reads a histogram map and then clears it; whatever the
// kernel counted between the read and the clear is lost. DoubleBufferedMap
// avoids that with two identical maps and a one-slot BPF_MAP_TYPE_ARRAY_OF_MAPS
// that tells the BPF programs which one to write:
//
//   struct hist_map { __uint(type, BPF_MAP_TYPE_HASH); ... } hist_a SEC(".maps"), hist_b SEC(".maps");
//   struct {
//           __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
//           __uint(max_entries, 1);
//           __type(key, __u32);
//           __array(values, struct hist_map);
//   } current SEC(".maps");
//   ...
//   void *hists = bpf_map_lookup_elem(&current, &zero);   // then look up / update in `hists`
//
// (The value type must be complete in the object's BTF: clang 14 keeps only a
// forward declaration of a struct no global variable uses, and libbpf then
// fails with "can't determine value size". A global of the type fixes it.)
//
// swap() points `current` at the idle map. The kernel makes an update of a
// map-in-map wait until every BPF program already running has returned
// (synchronize_rcu() in the bpf() system call), so once it returns nobody is
// still writing the retired map: it is read and emptied with no count lost,
// while the new interval is counted in the other map.
import type { BpfMap } from './map.js';
import { u32Key } from './map.js';
import type { BpfObject } from './object.js';
import { UsageError } from '../errors.js';

export class DoubleBufferedMap {
  readonly outer: BpfMap;
  readonly maps: readonly [BpfMap, BpfMap];
  #active = 0;

  /**
   * `outer` is a one-slot ARRAY_OF_MAPS (or HASH_OF_MAPS keyed by u32 0);
   * `inner` its two maps. Points slot 0 at inner[0] now, so the programs can
   * be attached right after.
   */
  constructor(obj: BpfObject, outer: string, inner: [string, string]) {
    this.outer = obj.map(outer);
    if (this.outer.type !== 'array_of_maps' && this.outer.type !== 'hash_of_maps') {
      throw new UsageError(`map ${outer} is a ${this.outer.type}, not a map of maps`);
    }
    this.maps = [obj.map(inner[0]), obj.map(inner[1])];
    this.#point(0);
  }

  #point(i: number): void {
    const fd = Buffer.alloc(4);
    fd.writeUInt32LE(this.maps[i]!.fd);
    this.outer.update(u32Key(0), fd);
    this.#active = i;
  }

  /** The map the programs write now. */
  get active(): BpfMap {
    return this.maps[this.#active]!;
  }

  /**
   * Points the programs at the other (empty) map, waits for those still
   * writing the old one (the kernel does, inside the update), then empties
   * the old map and returns what it held.
   */
  swap(): Array<[Buffer, Buffer]> {
    const retired = this.#active;
    this.#point(1 - retired);
    return this.maps[retired]!.drain();
  }

  /** The active map's entries, left in place (they keep changing). */
  peek(): Array<[Buffer, Buffer]> {
    return this.active.entries();
  }
}

/**
 * Counters that only grow: the BPF programs add to them and nothing clears
 * them. take() returns what each entry gained since the previous take() (the
 * first: since load), the slices of a per-CPU value summed: a lossless
 * interval read with no swap and no clearing, for maps whose keys are few
 * and lasting (a per-CPU array of histograms, a hash of IRQ names). Maps
 * whose keys come and go (per-PID histograms) fill up this way: those want
 * DoubleBufferedMap.
 *
 * Values must be whole u64 words (counters, slots, sums); each word's delta
 * is taken modulo 2^64. A value is read while programs may be adding to it,
 * so a count can land in this take() and its matching sum in the next: no
 * count is lost or counted twice.
 */
export class CumulativeMap {
  readonly map: BpfMap;
  readonly #words: number;
  /** The summed words at the previous take(), by key (hex). */
  #last = new Map<string, BigUint64Array>();

  constructor(obj: BpfObject, name: string) {
    this.map = obj.map(name);
    if (this.map.valueSize % 8 !== 0) throw new UsageError(`map ${name}: values of ${this.map.valueSize} bytes are not u64 counters`);
    this.#words = this.map.valueSize / 8;
  }

  /**
   * [key, gain] of every entry that gained since the previous take(); gain
   * is the map's valueSize bytes (per-CPU slices summed), so the generated
   * decoders read it.
   */
  take(): Array<[Buffer, Buffer]> {
    const out: Array<[Buffer, Buffer]> = [];
    for (const [k, v] of this.map.entries()) {
      const now = new BigUint64Array(this.#words);
      for (const slice of this.map.perCpu ? this.map.perCpuValues(v) : [v]) {
        for (let i = 0; i < this.#words; i++) now[i]! += slice.readBigUInt64LE(i * 8);
      }
      const id = k.toString('hex');
      const last = this.#last.get(id);
      this.#last.set(id, now);
      const gain = Buffer.alloc(this.map.valueSize);
      let changed = false;
      for (let i = 0; i < this.#words; i++) {
        const d = BigInt.asUintN(64, now[i]! - (last?.[i] ?? 0n));
        if (d !== 0n) changed = true;
        gain.writeBigUInt64LE(d, i * 8);
      }
      if (changed) out.push([k, gain]);
    }
    return out;
  }
}

export interface Log2Layout {
  /** Byte offset of slot 0 in the value (default 0). */
  offset?: number;
  /** Number of slots. */
  slots: number;
  /** Bytes per slot: 4 (u32) or 8 (u64, default). */
  slotBytes?: 4 | 8;
}

/**
 * The log2 slot counts held in a map value (or summed over the per-CPU
 * slices of one, see BpfMap.perCpuValues), as numbers, with trailing empty
 * slots dropped. Slot i is whatever the BPF side put there; format.ts's
 * log2Histogram prints the usual convention (slot i = [2^i, 2^(i+1)), 0 and 1
 * in slot 0).
 */
export function log2Buckets(value: Buffer | Buffer[], layout: Log2Layout): number[] {
  const values = Array.isArray(value) ? value : [value];
  const offset = layout.offset ?? 0;
  const size = layout.slotBytes ?? 8;
  const out = new Array<number>(layout.slots).fill(0);
  for (const v of values) {
    if (v.length < offset + layout.slots * size) {
      throw new UsageError(`value of ${v.length} bytes is too short for ${layout.slots} slots of ${size} bytes at offset ${offset}`);
    }
    for (let i = 0; i < layout.slots; i++) {
      const at = offset + i * size;
      out[i]! += size === 8 ? Number(v.readBigUInt64LE(at)) : v.readUInt32LE(at);
    }
  }
  let n = out.length;
  while (n > 0 && out[n - 1] === 0) n--;
  out.length = n;
  return out;
}
