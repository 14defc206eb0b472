// Writing large safetensors files tensor by tensor, never holding more than one tensor in memory:
// converted base weights (quantize/store.ts) and synthetic benchmark models (bench/synthetic.ts).
//
// The header is planned up front (every tensor's size follows from its dtype and shape), written
// first, and the tensors follow in plan order into `<file>.partial`. After each tensor a journal
// (`<file>.partial.json`) records how many are complete, so a killed conversion resumes at the first
// unfinished tensor; the finished file is renamed into place. Free disk space is checked before
// writing starts, so a conversion that cannot fit is refused early instead of failing half-way
// (space taken by something else meanwhile still fails a tensor's write: said, and resumable).
//
// Every tensor starts on a 64-byte boundary: ONNX Runtime maps the file and reads tensors in place,
// and the format allows no holes, so odd-sized tensors are followed by explicit `__pad__.i` tensors.

import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statfsSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { byteSize } from '../byte-size.ts';
import { ConfigError } from '../errors.ts';
import { makeFolders, writeFailure, writeFileAtomic } from './atomic-write.ts';
import { dtypeBytes, type SafetensorsDtype } from './safetensors.ts';

export interface PlannedTensor {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
}

export interface TensorSlot extends PlannedTensor {
  /** Absolute byte offset of the tensor in the file. */
  offset: number;
  byteLength: number;
}

export interface SafetensorsPlan {
  header: Buffer;
  /** Real tensors in write order (padding left out). */
  slots: TensorSlot[];
  totalBytes: number;
  /** Identifies the plan: a journal from another plan is never resumed. */
  id: string;
}

const ALIGN = 64;

/** Lays out tensors in the given order, each 64-byte aligned, and encodes the header. */
export function planSafetensors(
  tensors: PlannedTensor[],
  metadata: Record<string, string> = {},
): SafetensorsPlan {
  const entries: Array<PlannedTensor & { start: number; end: number }> = [];
  const slotsRel: Array<PlannedTensor & { start: number; bytes: number }> = [];
  let off = 0;
  let pads = 0;
  for (const t of tensors) {
    const bytes = t.shape.reduce((a, b) => a * b, 1) * dtypeBytes(t.dtype);
    entries.push({ ...t, start: off, end: off + bytes });
    slotsRel.push({ ...t, start: off, bytes });
    off += bytes;
    const gap = (ALIGN - (off % ALIGN)) % ALIGN;
    if (gap) {
      entries.push({ name: `__pad__.${pads++}`, dtype: 'U8', shape: [gap], start: off, end: off + gap });
      off += gap;
    }
  }
  const json: Record<string, unknown> = { __metadata__: metadata };
  for (const e of entries) json[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [e.start, e.end] };
  let text = JSON.stringify(json);
  // The data must start aligned too: pad the header with spaces (allowed by the format).
  text += ' '.repeat((ALIGN - ((8 + Buffer.byteLength(text)) % ALIGN)) % ALIGN);
  const hjson = Buffer.from(text, 'utf8');
  const header = Buffer.alloc(8 + hjson.length);
  header.writeBigUInt64LE(BigInt(hjson.length), 0);
  hjson.copy(header, 8);
  const dataStart = header.length;
  const slots = slotsRel.map((s) => ({
    name: s.name,
    dtype: s.dtype,
    shape: s.shape,
    offset: dataStart + s.start,
    byteLength: s.bytes,
  }));
  const id = createHash('sha256').update(header).digest('hex').slice(0, 32);
  return { header, slots, totalBytes: dataStart + off, id };
}

/**
 * Bytes free for an unprivileged writer on the file system holding `path`, or that will hold it
 * (its nearest existing folder: a data folder not made yet, a cache folder to come).
 */
export function freeBytes(path: string): number {
  let p = path;
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  const s = statfsSync(p);
  return Number(s.bavail) * Number(s.bsize);
}

export interface WriteProgress {
  /**
   * Bytes of the file complete so far, header and padding included (and what a resumed run found
   * done): it reaches totalBytes with the last tensor.
   */
  doneBytes: number;
  /** The file's size. */
  totalBytes: number;
  /** The tensor just written; at the start (the first event), the first one to write. */
  tensor: string;
  /** Tensors complete / all. */
  done: number;
  total: number;
}

/** Writes part of one tensor: `bytes` at `at` bytes from the tensor's start. */
export type TensorSink = (bytes: Uint8Array, at: number) => void;

/**
 * A break between two pieces of one tensor: a turn of the event loop, then the cancel check (throws
 * the write's 'cancelled' error). A producer of a large tensor awaits it between pieces.
 */
export type TensorPause = () => Promise<void>;

export interface StreamWriteOptions {
  /**
   * Writes all of one tensor's bytes through `sink` (in pieces, so no tensor need fit in memory),
   * awaiting `pause` between pieces where a tensor takes long: the writer itself pauses only between
   * tensors, and one LM head is seconds of converting (Llama-3-8B's: 2.1 GB in float32).
   */
  produce: (slot: TensorSlot, sink: TensorSink, pause: TensorPause) => void | Promise<void>;
  onProgress?: (p: WriteProgress) => void;
  /** Tensors to leave as holes (never written; a sparse file where the file system allows). */
  skip?: (slot: TensorSlot) => boolean;
  /** Extra bytes that must stay free after the write (default 256 MB). */
  reserveBytes?: number;
  /** Bytes between journal updates (default 256 MB): what a killed write may have to redo. */
  syncEveryBytes?: number;
  signal?: AbortSignal;
}

interface Journal {
  plan: string;
  done: number;
}

/**
 * Writes `plan` to `path`, resuming an interrupted write of the same plan. Throws ConfigError
 * 'disk-full' before writing when the remaining bytes do not fit.
 */
export async function writeSafetensorsStream(
  path: string,
  plan: SafetensorsPlan,
  opts: StreamWriteOptions,
): Promise<void> {
  const dir = dirname(path);
  makeFolders(dir);
  const partial = `${path}.partial`;
  const journalPath = `${partial}.json`;
  let done = 0;
  if (existsSync(partial) && existsSync(journalPath)) {
    try {
      const j = JSON.parse(readFileSync(journalPath, 'utf8')) as Journal;
      if (j.plan === plan.id && Number.isInteger(j.done)) done = Math.min(j.done, plan.slots.length);
    } catch {
      done = 0;
    }
  }
  if (done === 0) rmSync(partial, { force: true });
  const writes = plan.slots.filter((s, i) => i >= done && !opts.skip?.(s));
  const remaining = writes.reduce((a, s) => a + s.byteLength, done === 0 ? plan.header.length : 0);
  const reserve = opts.reserveBytes ?? 256 * 2 ** 20;
  const free = freeBytes(dir);
  if (remaining + reserve > free) {
    // The margin is named: "needs 55 MB more … but only 85 MB is free" read as a contradiction.
    // The whole path: every model folder has a model.safetensors, so its base name says nothing.
    throw new ConfigError(
      'disk-full',
      `${path}: needs ${byteSize(remaining)} more on its disk, and ${byteSize(reserve)} left free after it, but only ${byteSize(free)} is free`,
    );
  }
  const cancelled = () => new ConfigError('cancelled', `${path}: conversion cancelled`);
  // Conversion is synchronous work: without a turn of the event loop a Ctrl-C (or a cancel from the
  // studio) is not heard, so the writer turns it between tensors, and producers between pieces.
  const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
  const pause: TensorPause = async () => {
    await turn();
    if (opts.signal?.aborted) throw cancelled();
  };
  const fd = openSync(partial, done === 0 ? 'w' : 'r+');
  try {
    if (done === 0) {
      writeAll(fd, plan.header, 0);
      // The full size up front: skipped tensors stay holes. It reserves no space (ext4 and tmpfs
      // make a sparse file; Node has no fallocate): a disk filled by something else after the check
      // above fails at a tensor's write below, named, with the partial file kept for a resume.
      ftruncateSync(fd, plan.totalBytes);
      writeFileAtomic(journalPath, JSON.stringify({ plan: plan.id, done: 0 } satisfies Journal));
    }
    const total = plan.slots.length;
    // The file is complete up to the start of its first unwritten tensor (the end, once all are).
    const completeUpTo = (n: number) => (n < total ? plan.slots[n].offset : plan.totalBytes);
    const report = (n: number, tensor: string) =>
      opts.onProgress?.({ doneBytes: completeUpTo(n), totalBytes: plan.totalBytes, tensor, done: n, total });
    // A first event before any tensor: the reader learns at once that a (long) write has begun.
    report(done, plan.slots[done]?.name ?? '');
    let syncedBytes = completeUpTo(done);
    for (let i = done; i < total; i++) {
      if (opts.signal?.aborted) throw cancelled();
      const slot = plan.slots[i];
      if (!opts.skip?.(slot)) {
        let written = 0;
        const sink: TensorSink = (bytes, at) => {
          if (at < 0 || at + bytes.length > slot.byteLength)
            throw new RangeError(
              `${slot.name}: write of ${bytes.length} bytes at ${at} overruns ${slot.byteLength}`,
            );
          writeAll(fd, bytes, slot.offset + at);
          written += bytes.length;
        };
        await opts.produce(slot, sink, pause);
        if (written !== slot.byteLength)
          throw new RangeError(`${slot.name}: ${written} of ${slot.byteLength} bytes written`);
      }
      // Record progress every ~256 MB of data (an fsync per small tensor would dominate the time).
      if (completeUpTo(i + 1) - syncedBytes >= (opts.syncEveryBytes ?? 256 * 2 ** 20) || i === total - 1) {
        fsyncSync(fd);
        writeFileAtomic(journalPath, JSON.stringify({ plan: plan.id, done: i + 1 } satisfies Journal));
        syncedBytes = completeUpTo(i + 1);
      }
      report(i + 1, slot.name);
      await turn();
    }
    fsyncSync(fd);
  } catch (e) {
    // A disk filled by something else meanwhile: named, and the partial file kept for a resume.
    throw writeFailure(e, path);
  } finally {
    closeSync(fd);
  }
  renameSync(partial, path);
  rmSync(journalPath, { force: true });
}

function writeAll(fd: number, buf: Uint8Array, position: number): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off, position + off);
}
