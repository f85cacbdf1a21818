// Everything open that holds kernel resources, closed at process exit. The
// kernel would release the fds anyway when the process ends; closing here, in
// reverse order of opening, also delivers what readers still hold and detaches
// links before their objects go.

/** Anything that holds kernel resources. */
export interface Closeable {
  close(): void;
}

const open = new Set<Closeable>();
let hooked = false;

export function track(r: Closeable): void {
  open.add(r);
  if (!hooked) {
    hooked = true;
    process.once('exit', closeAll);
  }
}

export function untrack(r: Closeable): void {
  open.delete(r);
}

/** Closes every open object and reader (also runs at process exit). */
export function closeAll(): void {
  for (const r of [...open].reverse()) {
    try {
      r.close();
    } catch {
      // closing must not throw at exit
    }
  }
}
