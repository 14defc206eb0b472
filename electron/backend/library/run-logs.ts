// A run's log: what the trainer and the studio said about it (queued, resumed from step N, the
// trainer's own lines, paused, cancelled, failed because …), one JSON line per entry in
// <data>/runs/<id>/log.jsonl. Appends are single small writes to a file opened in append mode, so a
// crash loses at most the line being written; a torn last line is skipped when reading.
// Kept out of SQLite on purpose: log lines are many, never queried, and deleted with the run's folder.

import { appendFileSync, closeSync, existsSync, fstatSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { makeFolders } from '../../../native-runtime/formats/atomic-write.ts';
import { readFullyAt } from '../../../native-runtime/formats/read-at.ts';
import type { NoteLevel } from '../../../native-runtime/notices.ts';
import type { Library } from './library.ts';

export interface RunLogLine {
  /** Epoch ms. */
  at: number;
  /** 'studio' for the studio's own notes (state changes), 'trainer' for the engine's lines. */
  source: 'studio' | 'trainer';
  text: string;
  /** 'warn' where whoever said it marked it a warning; absent on other lines and on older logs. */
  level?: NoteLevel;
}

/** The run's own folder in the data folder (checkpoints, log). */
export function runFolder(lib: Library, runId: number): string {
  return join(lib.dataDir, 'runs', String(runId));
}

function logFile(lib: Library, runId: number): string {
  return join(runFolder(lib, runId), 'log.jsonl');
}

/** Appends one line; never throws (a full disk must not fail the training it describes). */
export function appendRunLog(
  lib: Library,
  runId: number,
  source: RunLogLine['source'],
  text: string,
  level?: NoteLevel,
): RunLogLine {
  const line: RunLogLine = { at: Date.now(), source, text: text.slice(0, 4000), ...(level ? { level } : {}) };
  try {
    makeFolders(runFolder(lib, runId));
    appendFileSync(logFile(lib, runId), `${JSON.stringify(line)}\n`);
  } catch {
    // the line is still pushed to open windows; only the stored copy is lost
  }
  return line;
}

/** How much of the log is read at a time, from its end back. */
const TAIL_CHUNK = 64 * 1024;
/** Longer than any line appendRunLog writes: bytes without a newline past this are not a line. */
const MAX_LINE_BYTES = 1024 * 1024;

function parseLine(raw: string): RunLogLine | null {
  if (!raw) return null;
  try {
    const v = JSON.parse(raw) as RunLogLine;
    return typeof v.at === 'number' && typeof v.text === 'string' ? v : null;
  } catch {
    return null; // a torn last line after a crash
  }
}

/**
 * The run's log, oldest first: the last `limit` lines (default 2000). Read from the end back in
 * chunks until it has them: a long run's log grows to hundreds of MB, and reading it whole held the
 * RPC loop and memory in proportion.
 */
export function readRunLog(lib: Library, runId: number, limit = 2000): RunLogLine[] {
  return readRunLogTail(lib, runId, limit).lines;
}

/** Lines of a run's log and the byte offset the read ended at (where readRunLogSince goes on). */
export interface RunLogRead {
  lines: RunLogLine[];
  end: number;
}

/** readRunLog, with the offset of the log's end as read: a follower reads on from there. */
export function readRunLogTail(lib: Library, runId: number, limit = 2000): RunLogRead {
  const file = logFile(lib, runId);
  if (!existsSync(file)) return { lines: [], end: 0 };
  const fd = openSync(file, 'r');
  const newestFirst: RunLogLine[] = [];
  // Where a follower reads on: after the last newline, so a line still being written is read whole
  // later (every line is far shorter than a chunk, so the first chunk read holds that newline).
  let through = -1;
  try {
    let end = fstatSync(fd).size;
    let rest = Buffer.alloc(0); // the start of the earliest line seen, which may begin in an earlier chunk
    while (end > 0 && newestFirst.length < limit) {
      const start = Math.max(0, end - TAIL_CHUNK);
      let chunk = Buffer.alloc(end - start);
      readFullyAt(fd, chunk, start);
      if (through < 0) {
        through = start + chunk.lastIndexOf(10) + 1;
        chunk = chunk.subarray(0, through - start);
      }
      const buf = rest.length ? Buffer.concat([chunk, rest]) : chunk;
      // A newline byte never occurs inside a UTF-8 character, so lines split safely as bytes.
      let pos = buf.length;
      for (;;) {
        const nl = pos === 0 ? -1 : buf.lastIndexOf(10, pos - 1);
        if (nl < 0 && start > 0) {
          rest = buf.subarray(0, pos);
          if (rest.length > MAX_LINE_BYTES) rest = Buffer.alloc(0);
          break;
        }
        const line = parseLine(buf.subarray(nl + 1, pos).toString('utf8'));
        if (line) newestFirst.push(line);
        if (nl < 0 || newestFirst.length >= limit) break;
        pos = nl;
      }
      end = start;
    }
  } finally {
    closeSync(fd);
  }
  return { lines: newestFirst.reverse(), end: Math.max(through, 0) };
}

/**
 * The lines appended to a run's log since byte `offset` (a readRunLogTail's or readRunLogSince's
 * `end`), oldest first. A last line still without its newline is left for the next read, so a line
 * being written is never cut in two.
 */
export function readRunLogSince(lib: Library, runId: number, offset: number): RunLogRead {
  const file = logFile(lib, runId);
  if (!existsSync(file)) return { lines: [], end: offset };
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size <= offset) return { lines: [], end: offset };
    const buf = Buffer.alloc(Math.min(size - offset, MAX_LINE_BYTES + TAIL_CHUNK));
    readFullyAt(fd, buf, offset);
    const complete = buf.lastIndexOf(10);
    if (complete < 0) {
      // A line past any appendRunLog writes is not a line: skip it rather than wait for it forever.
      return { lines: [], end: buf.length > MAX_LINE_BYTES ? offset + buf.length : offset };
    }
    const lines = buf
      .subarray(0, complete)
      .toString('utf8')
      .split('\n')
      .map(parseLine)
      .filter((l): l is RunLogLine => l !== null);
    return { lines, end: offset + complete + 1 };
  } finally {
    closeSync(fd);
  }
}
