// The files behind dataset versions: `<data>/datasets/<sha256>.jsonl`, one normalised row per line,
// named by the hash of their bytes and never changed. A writer streams rows into a temp file in the
// same folder (hashing as it goes, so memory stays bounded whatever the size), fsyncs it and renames
// it to its hash; a file already there with that name is complete (it was renamed into place), so
// the temp is dropped. A killed writer leaves only a `*.tmp` file, swept at start-up.
// readFrozenRows reads one back a piece at a time (a version can be over 512 MB, more than one
// JavaScript string holds); parsed rows of the last few files are kept.

import { createHash, type Hash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError } from '../../../native-runtime/errors.ts';
import { fsyncDir, writeFully } from '../../../native-runtime/formats/atomic-write.ts';
import { fileLinesSync, lineTooLong } from '../../../native-runtime/formats/line-reader.ts';
import type { DatasetRow } from './dataset-formats.ts';

export interface FrozenFile {
  contentHash: string;
  /** Path relative to the data folder (what the database stores). */
  rel: string;
  rowCount: number;
  sizeBytes: number;
}

/** Rows are written in pieces of about this size. */
const FLUSH_BYTES = 1 << 20;

export class FrozenFileWriter {
  readonly #dir: string;
  readonly #tmp: string;
  readonly #hash: Hash = createHash('sha256');
  #fd: number | null;
  #pending: string[] = [];
  #pendingBytes = 0;
  #rows = 0;
  #size = 0;

  constructor(readonly dataDir: string) {
    this.#dir = join(dataDir, 'datasets');
    mkdirSync(this.#dir, { recursive: true });
    this.#tmp = join(this.#dir, `import-${randomBytes(6).toString('hex')}.jsonl.tmp`);
    this.#fd = openSync(this.#tmp, 'w');
  }

  get rowCount(): number {
    return this.#rows;
  }

  write(row: DatasetRow): void {
    const line = `${JSON.stringify(row)}\n`;
    this.#pending.push(line);
    this.#pendingBytes += line.length;
    this.#rows++;
    if (this.#pendingBytes >= FLUSH_BYTES) this.#flush();
  }

  /** Makes the file durable under its hash; returns where it is. */
  finish(): FrozenFile {
    this.#flush();
    const fd = this.#open();
    fsyncSync(fd);
    closeSync(fd);
    this.#fd = null;
    const contentHash = this.#hash.digest('hex');
    const rel = join('datasets', `${contentHash}.jsonl`);
    const abs = join(this.dataDir, rel);
    if (existsSync(abs)) unlinkSync(this.#tmp);
    else {
      renameSync(this.#tmp, abs);
      fsyncDir(this.#dir);
    }
    return { contentHash, rel, rowCount: this.#rows, sizeBytes: this.#size };
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
    const buf = Buffer.from(this.#pending.join(''), 'utf8');
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#hash.update(buf);
    this.#size += buf.length;
    writeFully(this.#open(), buf);
  }
}

/** Writes rows already in memory (an edit, a split) as a frozen file. */
export function writeFrozenRows(dataDir: string, rows: Iterable<DatasetRow>): FrozenFile {
  const w = new FrozenFileWriter(dataDir);
  try {
    for (const r of rows) w.write(r);
    return w.finish();
  } catch (e) {
    w.abort();
    throw e;
  }
}

// Frozen files never change, so parsed rows can be kept (a few files).
const rowsCache = new Map<string, DatasetRow[]>();
const ROWS_CACHED = 4;

/** Refuses, in one line, a frozen file (absolute path) missing from the data folder. */
export function checkFrozenFile(path: string): void {
  if (!existsSync(path))
    throw new FormatError('missing-file', `dataset file ${path} is missing from the data folder`);
}

/** All rows of a frozen file (absolute path), parsed. Do not modify the array. */
export function readFrozenRows(path: string): readonly DatasetRow[] {
  const hit = rowsCache.get(path);
  if (hit) return hit;
  checkFrozenFile(path);
  const rows: DatasetRow[] = [];
  for (const line of fileLinesSync(path)) {
    if (!line.bytes)
      throw new FormatError('file-too-large', `dataset file ${path}: line ${line.n} ${lineTooLong(line)}`);
    if (line.size) rows.push(JSON.parse(line.bytes.toString('utf8')) as DatasetRow);
  }
  rowsCache.set(path, rows);
  while (rowsCache.size > ROWS_CACHED) rowsCache.delete(rowsCache.keys().next().value as string);
  return rows;
}
