// Reading a text file a line at a time, in bounded pieces. A file over 512 MB cannot be one
// JavaScript string (V8's limit, buffer.constants.MAX_STRING_LENGTH; its error names neither the
// file nor the limit), and reading a big one whole would hold it in memory twice. Lines are split
// on the \n BYTE before anything is decoded (a \n byte never occurs inside a UTF-8 character, so a
// character split across two pieces is whole again in its line); a \r before it is kept (callers
// trim). A line longer than maxLineBytes is not collected: it comes with `bytes` null and its size,
// so the caller can name it, and memory stays bounded by the limit.

import { constants } from 'node:buffer';
import { closeSync, createReadStream, openSync, readSync } from 'node:fs';

/** The longest line that can always be decoded to a string (each UTF-8 byte is at most one char). */
export const MAX_LINE_BYTES = constants.MAX_STRING_LENGTH;
const CHUNK_BYTES = 1 << 20;

export interface FileLine {
  /** 1-based line number. */
  n: number;
  /** The line's bytes without its \n; null when it is longer than maxLineBytes. */
  bytes: Buffer | null;
  /** The line's length in bytes. */
  size: number;
}

export interface LineReadOptions {
  /** Bytes read at a time (tests use tiny pieces to split lines and characters across them). */
  chunkBytes?: number;
  maxLineBytes?: number;
  /** Sees every piece read, in order (a hash of the whole file's bytes). */
  onChunk?: (chunk: Buffer) => void;
}

/** Turns pieces of a file into lines (see the header). */
class LineSplitter {
  #pending: Buffer[] = [];
  #size = 0;
  #n = 0;

  constructor(readonly maxLineBytes: number) {}

  *push(chunk: Buffer): Generator<FileLine> {
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      this.#add(chunk.subarray(start, nl));
      yield this.#take();
      start = nl + 1;
    }
    if (start < chunk.length) this.#add(chunk.subarray(start));
  }

  /** The last line, when the file does not end with \n. */
  *end(): Generator<FileLine> {
    if (this.#size) yield this.#take();
  }

  #add(piece: Buffer): void {
    this.#size += piece.length;
    if (this.#size > this.maxLineBytes) this.#pending = [];
    else if (piece.length) this.#pending.push(piece);
  }

  #take(): FileLine {
    const size = this.#size;
    const bytes =
      size > this.maxLineBytes
        ? null
        : this.#pending.length === 1
          ? this.#pending[0]
          : Buffer.concat(this.#pending, size);
    this.#pending = [];
    this.#size = 0;
    return { n: ++this.#n, bytes, size };
  }
}

/** A file's lines, read synchronously a piece at a time. */
export function* fileLinesSync(path: string, opts: LineReadOptions = {}): Generator<FileLine> {
  const split = new LineSplitter(opts.maxLineBytes ?? MAX_LINE_BYTES);
  for (const chunk of fileChunksSync(path, opts.chunkBytes)) {
    opts.onChunk?.(chunk);
    yield* split.push(chunk);
  }
  yield* split.end();
}

/** A file's bytes, a piece at a time (each a fresh buffer: what is made of one may keep views into it). */
export function* fileChunksSync(path: string, chunkBytes = CHUNK_BYTES): Generator<Buffer> {
  const fd = openSync(path, 'r');
  try {
    for (;;) {
      const buf = Buffer.allocUnsafe(chunkBytes);
      const got = readSync(fd, buf, 0, chunkBytes, null);
      if (got === 0) break;
      yield buf.subarray(0, got);
    }
  } finally {
    closeSync(fd);
  }
}

/** A file's lines, read asynchronously a piece at a time (the event loop runs between pieces). */
export async function* fileLines(path: string, opts: LineReadOptions = {}): AsyncGenerator<FileLine> {
  const split = new LineSplitter(opts.maxLineBytes ?? MAX_LINE_BYTES);
  const stream = createReadStream(path, { highWaterMark: opts.chunkBytes ?? CHUNK_BYTES });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    opts.onChunk?.(chunk);
    yield* split.push(chunk);
  }
  yield* split.end();
}

/** Line `n`'s bytes without the byte-order mark a first line may start with. */
export function withoutBom(bytes: Buffer, n: number): Buffer {
  return n === 1 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.subarray(3) : bytes;
}

/** Why a line was not read, after "line N": "is 600000000 bytes long (a line can be at most …)". */
export function lineTooLong(line: FileLine, maxLineBytes = MAX_LINE_BYTES): string {
  return `is ${line.size} bytes long (a line can be at most ${maxLineBytes} bytes)`;
}
