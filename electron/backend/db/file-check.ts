// When opening the library reads all of library.db to check it (PRAGMA quick_check). That read is
// the file's size: 1.5 s at 250 MB, which every CLI command paid before doing anything, `runs list`
// included. It is needed rarely: SQLite itself refuses a damaged page it reads or writes
// (SQLITE_CORRUPT, turned into one line by disk-full.ts), so a command never writes over damage it
// touches; the full check is there to find damage no command has touched yet, before it spreads.
//
// So the long-lived hosts (the studio, `serve`) check at every start, and any other open (a CLI
// command) checks when the file was not checked in the last day: the time of the last clean check
// is kept in <data>/library-check.json with library.db's identity (device, inode and creation time),
// so a file put in its place (a backup restored, a library copied in) is checked at its first open.
// The inode alone is not enough: a file deleted and copied in again (`rm library.db; cp backup
// library.db`) gets the inode just freed on ext4. A file copied over it in place keeps all three.
// Damage found — by the check or by any read (databaseDiskError) — forgets that time: every later
// open checks again and refuses the file until it is restored or moved aside, so nothing is written
// over it meanwhile.

import { readFileSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../../native-runtime/formats/atomic-write.ts';

/** When an open checks the file: at every open, or when its last clean check is a day old. */
export type FileCheckWhen = 'every-open' | 'daily';

const RECORD = 'library-check.json';
const DAY_MS = 24 * 3600 * 1000;

/** Which file library.db is: another file put in its place differs in one of these. */
interface FileIdentity {
  dev: number;
  ino: number;
  /** Its creation time (0 where the file system keeps none). */
  born: number;
}

interface CheckRecord extends FileIdentity {
  checkedAt: number;
}

function identity(dataDir: string): FileIdentity {
  const s = statSync(join(dataDir, 'library.db'));
  return { dev: s.dev, ino: s.ino, born: s.birthtimeMs };
}

const sameFile = (a: Partial<FileIdentity>, b: FileIdentity): boolean =>
  a.dev === b.dev && a.ino === b.ino && a.born === b.born;

/** Whether an open must check library.db now. */
export function fileCheckDue(dataDir: string, when: FileCheckWhen, now = Date.now()): boolean {
  if (when === 'every-open') return true;
  try {
    const r = JSON.parse(readFileSync(join(dataDir, RECORD), 'utf8')) as Partial<CheckRecord>;
    const age = now - Number(r.checkedAt);
    // A clock set back reads as a check from the future: checked again.
    return !(age >= 0 && age < DAY_MS && sameFile(r, identity(dataDir)));
  } catch {
    return true; // never checked, or the record unreadable
  }
}

/** Keeps the time of a clean check. Best effort: a full disk only means the next open checks again. */
export function recordFileCheck(dataDir: string, now = Date.now()): void {
  try {
    const record: CheckRecord = { checkedAt: now, ...identity(dataDir) };
    writeFileAtomic(join(dataDir, RECORD), `${JSON.stringify(record)}\n`, { mode: 0o600 });
  } catch {}
}

/** Damage was found: every later open checks the file again (and refuses it while it is damaged). */
export function forgetFileCheck(dataDir: string): void {
  try {
    unlinkSync(join(dataDir, RECORD));
  } catch {}
}
