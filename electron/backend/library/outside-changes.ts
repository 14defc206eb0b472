// Notices what other processes change in the library while a host is open — `reft-studio train`,
// `datasets import`, `adapters remove` in a terminal beside `serve` or the window — and tells every
// client with 'library/changed' pushes (marked `elsewhere`), as the host's own handlers do for their
// changes. Without it an open page kept showing what the CLI had removed and never saw what it added
// or trained until reloaded.
//
// A cheap poll: SQLite's `PRAGMA data_version` changes only when another connection committed, so
// an idle library costs one pragma a second. When it has changed, a short signature of each entry
// (its name, status, latest version or metric step, …) is read and compared with the last one, so
// that only the kinds and entries that changed are pushed — a CLI training commits every step and
// must not make every list reload.
//
// The host's own changes are not another process's: each entry the host pushes itself (any
// 'library/changed' but this watcher's own findings — a dead owner's work it marked, by a tick or a
// Cancel, included — and a training step of its own job on 'jobs/progress') has its signature read
// again at once, one indexed row. Otherwise the next poll after any CLI commit found them changed
// too and pushed them a second time: pages reloaded again, and the Runs page read the whole log of
// the studio's own running run again.
//
// A process can also change the library by dying: a CLI `train` or `evaluate` killed with -9 leaves
// its run or evaluation 'running'. Each tick also looks for such work by the start-up check's own
// rule (db/database.ts interruptDeadOwners: the owner's lock, never a timeout, so a slow or
// suspended CLI is never marked), marks it interrupted and pushes it. Before, an open studio showed
// it running until restarted, and refused to remove the model it had used.

import { interruptDeadOwners } from '../db/database.ts';
import type { BackendEvents, LibraryChange, LibraryKind, PushTopics } from '../events.ts';
import type { Library } from './library-handle.ts';

type EntryKind = Exclude<LibraryKind, 'settings'>;

/**
 * Per kind but runs (RunSignatures, below), one row per entry: its id and a text that changes
 * whenever the page shows it changed; `id` is the id column, to read one entry's signature alone.
 */
const SIGNATURES: Record<Exclude<EntryKind, 'runs'>, { sql: string; id: string }> = {
  models: {
    sql: `SELECT id, json_array(name, path, fingerprint, quantize, size_bytes) AS sig FROM models`,
    id: 'id',
  },
  datasets: {
    sql: `SELECT d.id, json_array(d.name,
      (SELECT max(v.id) FROM dataset_versions v WHERE v.dataset_id = d.id),
      (SELECT count(*) FROM dataset_versions v WHERE v.dataset_id = d.id)) AS sig FROM datasets d`,
    id: 'd.id',
  },
  adapters: {
    sql: `SELECT a.id, json_array(a.name, a.path, a.run_id, a.size_bytes,
      (SELECT group_concat(tag, ',') FROM (SELECT tag FROM adapter_tags WHERE adapter_id = a.id ORDER BY tag)))
      AS sig FROM adapters a`,
    id: 'a.id',
  },
  evaluations: {
    sql: `SELECT id, json_array(status, length(metrics_json)) AS sig FROM evaluations`,
    id: 'id',
  },
};
/**
 * A run's signature: its own columns, its last metric step, its last probe answer's step and its
 * number of checkpoints. Read for every run at each tick, the three counts of its rows elsewhere
 * (three lookups per run: 2,000 runs, 3M metric points) were most of a tick — 20–60 ms each second
 * while a CLI trained. Now only what can have changed is read again: a run's last metric step
 * when it is queued or running (the only runs that gain steps: a resume sets 'queued' before its
 * metrics are restored and truncated) or its own columns changed, and the probe steps and
 * checkpoint counts of all runs when those tables' row count or last id moved.
 */
class RunSignatures {
  #own = new Map<number, string>();
  #metricStep = new Map<number, number | null>();
  #probeKey = '';
  #probeStep = new Map<number, number>();
  #checkpointKey = '';
  #checkpoints = new Map<number, number>();

  /** Every run's signature, as it is now. */
  all(lib: Library): Map<number, string> {
    const db = lib.db;
    const own = new Map(
      (db.prepare(`${RUN_OWN} FROM runs`).raw().all() as Array<[number, string]>).map(([id, sig]) => [
        id,
        sig,
      ]),
    );
    const probeKey = (db.prepare(TABLE_KEY('generations')).get() as { k: string }).k;
    if (probeKey !== this.#probeKey) {
      this.#probeKey = probeKey;
      this.#probeStep = new Map(
        db
          .prepare('SELECT run_id, max(step) FROM generations WHERE run_id IS NOT NULL GROUP BY run_id')
          .raw()
          .all() as Array<[number, number]>,
      );
    }
    const checkpointKey = (db.prepare(TABLE_KEY('checkpoints')).get() as { k: string }).k;
    if (checkpointKey !== this.#checkpointKey) {
      this.#checkpointKey = checkpointKey;
      this.#checkpoints = new Map(
        db.prepare('SELECT run_id, count(*) FROM checkpoints GROUP BY run_id').raw().all() as Array<
          [number, number]
        >,
      );
    }
    const lastStep = db.prepare('SELECT max(step) AS s FROM run_metrics WHERE run_id = ?');
    const metricStep = new Map<number, number | null>();
    for (const [id, sig] of own) {
      const known = this.#metricStep.get(id);
      const stepping = sig.startsWith('["queued"') || sig.startsWith('["running"');
      metricStep.set(
        id,
        known === undefined || stepping || this.#own.get(id) !== sig
          ? (lastStep.get(id) as { s: number | null }).s
          : known,
      );
    }
    this.#own = own;
    this.#metricStep = metricStep;
    const out = new Map<number, string>();
    for (const [id, sig] of own)
      out.set(id, runSignature(sig, metricStep.get(id), this.#probeStep.get(id), this.#checkpoints.get(id)));
    return out;
  }

  /** One run's signature as it is now (undefined once it is gone), by its own indexed reads. */
  one(lib: Library, id: number): string | undefined {
    const row = lib.db
      .prepare(
        `${RUN_OWN}, (SELECT max(step) FROM run_metrics WHERE run_id = r.id),
          (SELECT max(step) FROM generations WHERE run_id = r.id),
          (SELECT count(*) FROM checkpoints WHERE run_id = r.id) FROM runs r WHERE r.id = ?`,
      )
      .raw()
      .get(id) as [number, string, number | null, number | null, number] | undefined;
    return row && runSignature(row[1], row[2], row[3], row[4] || undefined);
  }
}

/**
 * A run's own columns that its row shows (the status first, which RunSignatures looks at); the rows
 * its data preparation has done, which a CLI run records before its first step (run-execution.ts).
 */
const RUN_OWN = 'SELECT id, json_array(status, name, error, finished_at, total_steps, prepared_rows)';
/** Rows and last id of a table: moves with every insert and delete (its ids are AUTOINCREMENT). */
const TABLE_KEY = (table: string) => `SELECT count(*) || ',' || ifnull(max(id), 0) AS k FROM ${table}`;

function runSignature(
  own: string,
  metric?: number | null,
  probe?: number | null,
  checkpoints?: number,
): string {
  return `${own}|${metric ?? ''}|${probe ?? ''}|${checkpoints ?? 0}`;
}

/** Settings are one list: any key saved elsewhere is one 'settings' change. */
const SETTINGS_SIGNATURE = "SELECT count(*) || ',' || ifnull(max(updated_at), 0) AS sig FROM settings";

/** More changed entries of one kind than this are pushed as one change without an id. */
const MANY = 20;

type Snapshot = { entries: Map<string, Map<number, string>>; settings: string };

function kindSignatures(lib: Library, runs: RunSignatures, kind: EntryKind): Map<number, string> {
  if (kind === 'runs') return runs.all(lib);
  const rows = lib.db.prepare(SIGNATURES[kind].sql).all() as Array<{ id: number; sig: string }>;
  return new Map(rows.map((r) => [r.id, r.sig]));
}

const ENTRY_KINDS: readonly EntryKind[] = ['models', 'datasets', 'runs', 'adapters', 'evaluations'];

function snapshot(lib: Library, runs: RunSignatures): Snapshot {
  const entries = new Map<string, Map<number, string>>();
  for (const kind of ENTRY_KINDS) entries.set(kind, kindSignatures(lib, runs, kind));
  const settings = (lib.db.prepare(SETTINGS_SIGNATURE).get() as { sig: string }).sig;
  return { entries, settings };
}

/** One entry's signature as it is now; undefined once it is gone. */
function entrySignature(lib: Library, runs: RunSignatures, kind: EntryKind, id: number): string | undefined {
  if (kind === 'runs') return runs.one(lib, id);
  const { sql, id: column } = SIGNATURES[kind];
  return (lib.db.prepare(`${sql} WHERE ${column} = ?`).get(id) as { sig: string } | undefined)?.sig;
}

/** Takes in what the host itself changed (and pushed): the snapshot holds it as it is now. */
function takeInOwnChange(
  lib: Library,
  runs: RunSignatures,
  known: Snapshot,
  kind: LibraryKind,
  id: number | undefined,
): void {
  if (kind === 'settings') {
    known.settings = (lib.db.prepare(SETTINGS_SIGNATURE).get() as { sig: string }).sig;
    return;
  }
  if (id === undefined) {
    known.entries.set(kind, kindSignatures(lib, runs, kind));
    return;
  }
  const sig = entrySignature(lib, runs, kind, id);
  const entries = known.entries.get(kind) ?? new Map<number, string>();
  known.entries.set(kind, entries);
  if (sig !== undefined) entries.set(id, sig);
  else entries.delete(id);
}

/** What changed between two snapshots, as the pushes a host's own handlers would have sent. */
function differences(before: Snapshot, now: Snapshot): LibraryChange[] {
  const out: LibraryChange[] = [];
  for (const [kind, current] of now.entries) {
    const previous = before.entries.get(kind) ?? new Map<number, string>();
    const changes: LibraryChange[] = [];
    for (const [id, sig] of current) {
      const old = previous.get(id);
      if (old === undefined)
        changes.push({ kind: kind as LibraryKind, id, action: 'added', elsewhere: true });
      else if (old !== sig)
        changes.push({ kind: kind as LibraryKind, id, action: 'updated', elsewhere: true });
    }
    for (const id of previous.keys()) {
      if (!current.has(id))
        changes.push({ kind: kind as LibraryKind, id, action: 'removed', elsewhere: true });
    }
    if (changes.length > MANY) out.push({ kind: kind as LibraryKind, action: 'updated', elsewhere: true });
    else out.push(...changes);
  }
  if (before.settings !== now.settings) out.push({ kind: 'settings', action: 'updated', elsewhere: true });
  return out;
}

/**
 * Marks interrupted the work other processes left 'running' when they died (interruptDeadOwners)
 * and tells every client; returns what it pushed. A cost of a few reads while nothing runs
 * elsewhere: one look at each running row's owner lock.
 */
export function interruptDeadWork(lib: Library, events: BackendEvents): LibraryChange[] {
  const found = interruptDeadOwners(lib.db, lib.dataDir);
  const changes = (['runs', 'evaluations'] as const).flatMap((kind) =>
    found[kind].map((id): LibraryChange => ({ kind, id, action: 'updated', elsewhere: true })),
  );
  for (const c of changes) events.emit('library/changed', c);
  return changes;
}

export interface OutsideChangeWatcher {
  /** Checks now (also called by the timer); returns the changes it pushed. */
  check(): LibraryChange[];
  stop(): void;
}

export function watchOutsideChanges(
  lib: Library,
  events: BackendEvents,
  /** alsoCheck: another cheap look at what other processes change, on the same tick (no timer of its own). */
  opts: { intervalMs?: number; alsoCheck?: () => void } = {},
): OutsideChangeWatcher {
  const dataVersion = () => lib.db.pragma('data_version', { simple: true }) as number;
  let version = dataVersion();
  const runs = new RunSignatures();
  let known = snapshot(lib, runs);
  let pushingFindings = false;
  const committed = (): LibraryChange[] => {
    let now: Snapshot;
    try {
      const v = dataVersion();
      if (v === version) return [];
      version = v;
      now = snapshot(lib, runs);
    } catch {
      return []; // a busy or closing database: the next tick tries again
    }
    const changes = differences(known, now);
    known = now;
    pushingFindings = true; // already in `known`: the listener below need not read them again
    try {
      for (const c of changes) events.emit('library/changed', c);
    } finally {
      pushingFindings = false;
    }
    return changes;
  };
  const ownChange = (kind: LibraryKind, id: number | undefined) => {
    try {
      takeInOwnChange(lib, runs, known, kind, id);
    } catch {
      // a busy or closing database: at worst the entry is pushed once more by the next poll
    }
  };
  const unsubscribe = events.onAny((topic, data) => {
    if (topic === 'library/changed') {
      if (!pushingFindings) ownChange((data as LibraryChange).kind, (data as LibraryChange).id);
    } else if (topic === 'jobs/progress') {
      // The host's own training steps: its clients follow them on 'jobs/progress', not as changes.
      const runId = (data as PushTopics['jobs/progress']).runId;
      if (runId !== null) ownChange('runs', runId);
    }
  });
  const check = (): LibraryChange[] => {
    const changes = committed();
    try {
      // Pushed by this host, so taken in at once by the listener above.
      changes.push(...interruptDeadWork(lib, events));
    } catch {} // a busy or closing database: the next tick looks again
    try {
      opts.alsoCheck?.();
    } catch {} // as the checks above: a failed look is tried again next tick, never thrown on a timer
    return changes;
  };
  const interval = opts.intervalMs ?? (Number(process.env.REFT_STUDIO_LIBRARY_POLL_MS) || 1000);
  const timer = setInterval(check, interval);
  timer.unref();
  return {
    check,
    stop: () => {
      clearInterval(timer);
      unsubscribe();
    },
  };
}
