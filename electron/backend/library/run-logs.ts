// A run's log: what the trainer and the studio said about it (queued, resumed from step N, the
// trainer's own lines, paused, cancelled, failed because …), one JSON line per entry in
// <data>/runs/<id>/log.jsonl. Appends are single small writes to a file opened in append mode, so a
// crash loses at most the line being written; a torn last line is skipped when reading.
// Kept out of SQLite on purpose: log lines are many, never queried, and deleted with the run's folder.

import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Library } from './library.ts';

export interface RunLogLine {
  /** Epoch ms. */
  at: number;
  /** 'studio' for the studio's own notes (state changes), 'trainer' for the engine's lines. */
  source: 'studio' | 'trainer';
  text: string;
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
): RunLogLine {
  const line: RunLogLine = { at: Date.now(), source, text: text.slice(0, 4000) };
  try {
    mkdirSync(runFolder(lib, runId), { recursive: true });
    appendFileSync(logFile(lib, runId), `${JSON.stringify(line)}\n`);
  } catch {
    // the line is still pushed to open windows; only the stored copy is lost
  }
  return line;
}

/** The run's log, oldest first: the last `limit` lines (default 2000). */
export function readRunLog(lib: Library, runId: number, limit = 2000): RunLogLine[] {
  const file = logFile(lib, runId);
  if (!existsSync(file)) return [];
  const out: RunLogLine[] = [];
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    if (!raw) continue;
    try {
      const v = JSON.parse(raw) as RunLogLine;
      if (typeof v.at === 'number' && typeof v.text === 'string') out.push(v);
    } catch {
      // a torn last line after a crash
    }
  }
  return out.slice(-limit);
}
