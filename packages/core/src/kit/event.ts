// Streaming tools (execsnoop, opensnoop, ...): a BPF program that sends one
// record per event through a ring buffer. The tool declares its program, its
// decoder and its user-space filters; the kit gives it the typed API (a
// Tracer: events as an async iterable, close()) and the CLI pipeline
// (kit/cli.ts) from the same declaration.
import type { BpfObject } from '../bpf/object.js';
import { Tracer, type Decoder } from '../stream/tracer.js';
import { jsonEvent } from '../format/json.js';
import { checkOptions, type OptionDefs, type OptionsOf } from './options.js';
import { loadProgram, type ProgramDef } from './program.js';

/** Options every event tool takes besides its own. */
export interface CommonOptions {
  /** Ring buffer size in bytes, a power of two (each tool has its default). */
  ringBytes?: number;
}

export interface EventToolDef<D extends OptionDefs, E, T = undefined> extends ProgramDef<OptionsOf<D> & CommonOptions, T> {
  /** The options: CLI flag, help and value type each. */
  options: D;
  /** One ring record to one event. The event must own its data (copy bytes out of the view). */
  decode: Decoder<E>;
  /** A decoder built from the options, used instead of `decode` (records that need them: a pid to report). */
  decoder?: (opts: OptionsOf<D>) => Decoder<E>;
  /** A user-space filter built from the options (for what the kernel cannot filter). */
  filter?: (opts: OptionsOf<D>) => ((ev: E) => boolean) | undefined;
  /** Ring buffer maps to read (default: the `ring` map, or 'events'). */
  rings?: string[];
}

/** A loaded event tool, before anything reads it: for pipelines that read records themselves. */
export interface LoadedEventTool<E> {
  object: BpfObject;
  rings: string[];
  /** decode + filter: the event, or undefined when filtered out. */
  decode: Decoder<E>;
}

export interface EventTool<D extends OptionDefs, E, T = any> {
  readonly def: EventToolDef<D, E, T>;
  /**
   * Validates options, loads and attaches: the typed API. `tracer` makes the
   * handle (a Tracer subclass with the tool's own counters); default a Tracer.
   */
  start<R extends Tracer<E> = Tracer<E>>(opts?: OptionsOf<D> & CommonOptions, tracer?: (loaded: LoadedEventTool<E>) => R): R;
  /** Validates options, loads and attaches; the caller reads the rings. */
  load(opts?: OptionsOf<D> & CommonOptions): LoadedEventTool<E>;
}

export function defineEventTool<D extends OptionDefs, E, T = undefined>(def: EventToolDef<D, E, T>): EventTool<D, E, T> {
  const rings = def.rings ?? [def.ring?.map ?? 'events'];
  const load = (opts: OptionsOf<D> & CommonOptions = {} as OptionsOf<D>): LoadedEventTool<E> => {
    checkOptions(def.options, opts, ['ringBytes']);
    const accept = def.filter?.(opts);
    const base = def.decoder?.(opts) ?? def.decode;
    const decode: Decoder<E> = accept
      ? (view, offset, length) => {
          const ev = base(view, offset, length);
          return ev !== undefined && accept(ev) ? ev : undefined;
        }
      : base;
    return { object: loadProgram(def, opts), rings, decode };
  };
  return {
    def,
    load,
    start<R extends Tracer<E>>(opts?: OptionsOf<D> & CommonOptions, tracer?: (loaded: LoadedEventTool<E>) => R): R {
      const loaded = load(opts);
      // The API's events serialize with plain JSON.stringify() (bigints as
      // decimal strings): a toJSON on their prototype, not a field.
      const decode = loaded.decode;
      loaded.decode = (view, offset, length) => jsonEvent(decode(view, offset, length));
      try {
        return tracer ? tracer(loaded) : (new Tracer<E>(loaded) as R);
      } catch (err) {
        loaded.object.close();
        throw err;
      }
    },
  };
}
