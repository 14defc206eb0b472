// Typed arrays that fill up as rows are read (row indexes, packed token ids, search matches).

type Grows = Int32Array | Uint32Array | Float64Array | Uint8Array;

/**
 * `from`'s values copied to the start of `to`, a larger array of the same kind, returned. A fresh
 * typed array's pages are mapped only when touched, so room made ahead costs nothing until used.
 */
export function grown<T extends Grows>(from: T, to: T): T {
  to.set(from as never);
  return to;
}
