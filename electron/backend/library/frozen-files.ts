// The files behind dataset versions: `<data>/datasets/<sha256>.jsonl`, one normalised row per line,
// named by the hash of their bytes and never changed. A writer streams rows into a temp file in the
// same folder (hashing as it goes, so memory stays bounded whatever the size; synced every few MB, so
// that finishing syncs only the rest), fsyncs it and renames it to its hash; a file already there
// with that name is complete (it was renamed into place), so the temp is dropped. A killed writer
// leaves only a `*.tmp` file, swept at start-up. Files no version records are deleted when a dataset
// is removed, and at start-up (frozen-file-reclaim.ts).
// Files are read back a piece at a time (a version can be over 512 MB, more than one JavaScript
// string holds), and never whole into memory where it can be helped (a 500 MB version parsed is
// ~600 MB of heap): frozenLines streams a file's rows as their bytes (splits and edits copy them
// unparsed), readFrozenRowsAt reads only given rows through an index of where each row starts
// (kept for a few files; 12 bytes a row), which one streamed pass builds (in time slices on the
// studio's RPC loop: frozenRowIndexInSlices).

import { createHash, type Hash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, renameSync, unlinkSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError } from '../../../native-runtime/errors.ts';
import {
  fsyncDir,
  makeFolders,
  writeFailure,
  writeFully,
} from '../../../native-runtime/formats/atomic-write.ts';
import { fileLinesSync, lineTooLong } from '../../../native-runtime/formats/line-reader.ts';
import { readFullyAt } from '../../../native-runtime/formats/read-at.ts';
import { grown } from '../../../native-runtime/typed-arrays.ts';
import type { DatasetRow } from './dataset-formats.ts';
import { KeptScans, runThrough } from './sliced-scans.ts';

export interface FrozenFile {
  contentHash: string;
  /** Path relative to the data folder (what the database stores). */
  rel: string;
  rowCount: number;
  sizeBytes: number;
  /** This writer put the file in place (false: a file of the same rows was already there). */
  createdHere: boolean;
}

/** Rows are written in pieces of about this size. */
const FLUSH_BYTES = 1 << 20;
/**
 * What is written is made durable every this many bytes, so that finish() syncs only the rest: an
 * 80 MB file (1M rows) synced at once held the last step of an edit or split ~50 ms.
 */
const SYNC_BYTES = 8 << 20;

export class FrozenFileWriter {
  readonly #dir: string;
  readonly #tmp: string;
  readonly #hash: Hash = createHash('sha256');
  #fd: number | null;
  #pending: (string | Buffer)[] = [];
  #pendingBytes = 0;
  #rows = 0;
  #size = 0;
  #unsynced = 0;

  constructor(readonly dataDir: string) {
    this.#dir = join(dataDir, 'datasets');
    makeFolders(this.#dir);
    this.#tmp = join(this.#dir, `import-${randomBytes(6).toString('hex')}.jsonl.tmp`);
    this.#fd = openSync(this.#tmp, 'w');
  }

  get rowCount(): number {
    return this.#rows;
  }

  write(row: DatasetRow): void {
    this.#add(`${JSON.stringify(row)}\n`);
  }

  /** A row as the bytes of a frozen file's line (without its \n): copied, never re-serialised. */
  writeLine(bytes: Buffer): void {
    this.#add(bytes, '\n');
  }

  #add(...pieces: (string | Buffer)[]): void {
    for (const p of pieces) {
      this.#pending.push(p);
      this.#pendingBytes += p.length;
    }
    this.#rows++;
    if (this.#pendingBytes >= FLUSH_BYTES) this.#flush();
  }

  /** Makes the file durable under its hash; returns where it is. */
  finish(): FrozenFile {
    this.#flush();
    const fd = this.#open();
    this.#naming(() => fsyncSync(fd));
    closeSync(fd);
    this.#fd = null;
    const contentHash = this.#hash.digest('hex');
    const rel = join('datasets', `${contentHash}.jsonl`);
    const abs = join(this.dataDir, rel);
    const createdHere = !existsSync(abs);
    if (!createdHere) {
      unlinkSync(this.#tmp);
      // Marks the file as just written, so that another process's start-up sweep of files no version
      // records (frozen-file-reclaim.ts) leaves it until this one is recorded.
      try {
        const now = new Date();
        utimesSync(abs, now, now);
      } catch {}
    } else {
      renameSync(this.#tmp, abs);
      fsyncDir(this.#dir);
    }
    return { contentHash, rel, rowCount: this.#rows, sizeBytes: this.#size, createdHere };
  }

  /** Drops what was written (a refused import). Safe after finish() and twice. */
  abort(): void {
    if (this.#fd === null) return;
    closeSync(this.#fd);
    this.#fd = null;
    try {
      unlinkSync(this.#tmp);
    } catch {}
  }

  #open(): number {
    if (this.#fd === null) throw new Error('frozen file writer already finished');
    return this.#fd;
  }

  #flush(): void {
    if (!this.#pending.length) return;
    const buf = Buffer.concat(this.#pending.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)));
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#hash.update(buf);
    this.#size += buf.length;
    this.#naming(() => writeFully(this.#open(), buf));
    this.#unsynced += buf.length;
    if (this.#unsynced >= SYNC_BYTES) {
      this.#naming(() => fsyncSync(this.#open()));
      this.#unsynced = 0;
    }
  }

  /** A failed write names the datasets folder (its temp file's name means nothing to people). */
  #naming(io: () => void): void {
    try {
      io();
    } catch (e) {
      throw writeFailure(e, this.#dir);
    }
  }
}

/**
 * Frozen files written together (a split's parts): `fill` writes rows into `count` writers, at once
 * or as a scan that yields where its runner may pause (sliced-scans.ts); all are finished, or on any
 * failure all are dropped.
 */
export function* frozenFilesWritten(
  dataDir: string,
  count: number,
  fill: (writers: FrozenFileWriter[]) => Generator<void, void> | void,
): Generator<void, FrozenFile[]> {
  const writers: FrozenFileWriter[] = [];
  try {
    for (let k = 0; k < count; k++) writers.push(new FrozenFileWriter(dataDir));
    const filling = fill(writers);
    if (filling) yield* filling;
    return writers.map((w) => w.finish());
  } catch (e) {
    for (const w of writers) w.abort();
    throw e;
  }
}

/** One frozen file written by `fill` at once (frozenFilesWritten run through), dropped on failure. */
export function writeFrozenFile(dataDir: string, fill: (w: FrozenFileWriter) => void): FrozenFile {
  return runThrough(frozenFilesWritten(dataDir, 1, ([w]) => fill(w)))[0];
}

/** Refuses, in one line, a frozen file (absolute path) missing from the data folder. */
export function checkFrozenFile(path: string): void {
  if (!existsSync(path))
    throw new FormatError('missing-file', `dataset file ${path} is missing from the data folder`);
}

/** A row of a frozen file (absolute path), numbered from 0, as the bytes of its line. */
export interface FrozenLine {
  index: number;
  bytes: Buffer;
  /** Where the line starts in the file. */
  offset: number;
}

/** The rows of a frozen file (absolute path) as their lines' bytes, streamed (a blank line is no row). */
export function* frozenLines(path: string): Generator<FrozenLine> {
  checkFrozenFile(path);
  let index = 0;
  let offset = 0;
  for (const line of fileLinesSync(path)) {
    if (!line.bytes)
      throw new FormatError('file-too-large', `dataset file ${path}: line ${line.n} ${lineTooLong(line)}`);
    if (line.size) yield { index: index++, bytes: line.bytes, offset };
    offset += line.size + 1;
  }
}

/** A frozen file's line as its row; a line that is not JSON is named (the file was damaged). */
export function parseFrozenLine(path: string, line: { index: number; bytes: Buffer }): DatasetRow {
  try {
    return JSON.parse(line.bytes.toString('utf8')) as DatasetRow;
  } catch {
    throw new FormatError(
      'bad-file',
      `dataset file ${path}: row ${line.index} is not JSON (the file is damaged)`,
    );
  }
}

/** The rows of a frozen file, parsed one at a time. */
export function* frozenRows(path: string): Generator<DatasetRow> {
  for (const line of frozenLines(path)) yield parseFrozenLine(path, line);
}

/** All rows of a frozen file (absolute path), parsed: for small files only (see the header). */
export function readFrozenRows(path: string): DatasetRow[] {
  return [...frozenRows(path)];
}

/** Where each row of a frozen file starts, and its length (without the \n). */
interface RowIndex {
  starts: Float64Array;
  sizes: Uint32Array;
}

// Frozen files never change, so their indexes can be kept (a few files).
const indexes = new KeptScans<RowIndex>(8);
/** Rows between the points where an index's scan may pause. */
const ROWS_A_PAUSE = 1024;

/** One streamed pass over a frozen file; yields every ROWS_A_PAUSE rows, where its runner may pause. */
function* indexScan(path: string): Generator<void, RowIndex> {
  let starts = new Float64Array(1024);
  let sizes = new Uint32Array(1024);
  let n = 0;
  for (const line of frozenLines(path)) {
    if (n === starts.length) {
      starts = grown(starts, new Float64Array(n * 2));
      sizes = grown(sizes, new Uint32Array(n * 2));
    }
    starts[n] = line.offset;
    sizes[n++] = line.bytes.length;
    if (n % ROWS_A_PAUSE === 0) yield;
  }
  return { starts: starts.slice(0, n), sizes: sizes.slice(0, n) };
}

function rowIndex(path: string): RowIndex {
  return indexes.get(path, () => indexScan(path));
}

/**
 * Builds a frozen file's row index, unless kept, in time slices (sliced-scans.ts): on the studio's RPC loop
 * the first page of a 1M-row version held every window for 0.85–1.1 s while it was built.
 */
export async function frozenRowIndexInSlices(path: string): Promise<void> {
  await indexes.getInSlices(path, () => indexScan(path));
}

/** Rows `indices` of a frozen file, parsed, read through the file's row index (nothing else is read). */
export function readFrozenRowsAt(path: string, indices: readonly number[]): DatasetRow[] {
  if (!indices.length) return [];
  const { starts, sizes } = rowIndex(path);
  const fd = openSync(path, 'r');
  try {
    return indices.map((index) => {
      if (!(index >= 0 && index < starts.length))
        throw new FormatError('bad-file', `dataset file ${path} has no row ${index} (the file is damaged)`);
      const bytes = Buffer.allocUnsafe(sizes[index]);
      if (readFullyAt(fd, bytes, starts[index]) < bytes.length)
        throw new FormatError('bad-file', `dataset file ${path} ended early (the file is damaged)`);
      return parseFrozenLine(path, { index, bytes });
    });
  } finally {
    closeSync(fd);
  }
}
