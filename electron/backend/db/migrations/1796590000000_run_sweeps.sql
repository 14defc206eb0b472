-- Sweeps: runs queued together from the Train wizard's "Try several values" (runs/start-many), the
-- same run with other values of one or two options. A sweep row says which options it varies (a
-- JSON list of option keys, as the runs' configs differ); each of its runs names it in sweep_id.
-- Runs queued alone, by the CLI, and those recorded before this migration have no sweep (NULL).
-- A sweep row outlives its runs' deletion (it is a few bytes; its number is never given again).
CREATE TABLE sweeps (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  varied_json TEXT NOT NULL DEFAULT '[]',
  created_at INTEGER NOT NULL
);
ALTER TABLE runs ADD COLUMN sweep_id INTEGER REFERENCES sweeps(id);
CREATE INDEX runs_sweep ON runs(sweep_id) WHERE sweep_id IS NOT NULL;
