-- Evaluation jobs of the CLI's `evaluate` too (it runs beside the studio on the same data folder,
-- and a removal there must see it as it sees the studio's queued ones; cli/commands/evaluate.ts):
--   job_id     NULL for the CLI's, which has no job queue (the studio's job id otherwise)
--   owner_pid  the process running it, so that a refusal names the CLI's process
-- SQLite cannot drop a NOT NULL in place: the table is made again, its rows kept.
CREATE TABLE evaluation_jobs_new (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id INTEGER,
  adapter_id INTEGER REFERENCES adapters(id) ON DELETE SET NULL,
  model_id INTEGER REFERENCES models(id) ON DELETE SET NULL,
  data_path TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'stopping', 'ended', 'interrupted')),
  owner_token TEXT NOT NULL,
  owner_pid INTEGER,
  created_at INTEGER NOT NULL
);
INSERT INTO evaluation_jobs_new (id, job_id, adapter_id, model_id, data_path, status, owner_token, created_at)
  SELECT id, job_id, adapter_id, model_id, data_path, status, owner_token, created_at FROM evaluation_jobs;
DROP TABLE evaluation_jobs;
ALTER TABLE evaluation_jobs_new RENAME TO evaluation_jobs;
CREATE INDEX evaluation_jobs_active ON evaluation_jobs (status) WHERE status IN ('queued', 'running', 'stopping');
