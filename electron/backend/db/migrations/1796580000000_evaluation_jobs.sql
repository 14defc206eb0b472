-- Evaluations queued or running, in the studio (from the moment they are queued: their row in
-- evaluations comes only once the engine has checked the request) or in the CLI's `evaluate`, with
-- what they read: so that a removal or a start-up sweep in any process (the CLI beside `serve`)
-- leaves their adapter, model, converted base weights and dataset file alone
-- (library/evaluation-jobs.ts). 'stopping': cancelled, the engine not yet let go. 'ended' once the
-- engine has let go; left queued/running/stopping by a process that died, 'interrupted' at the next
-- start-up (db/database.ts, by the owner lock, as runs are).
--   job_id             the studio's job id, which a later process's job ids continue after
--                      (host.ts); NULL for the CLI's, which has no job queue
--   owner_pid          the process running it, so that a refusal names the CLI's process
--   model_fingerprint  the base model's fingerprint it reads its model with: a model whose files
--                      change meanwhile (library/models.ts refreshModel) keeps its old converted
--                      weights (bases/<fingerprint>) until no job or run reads them
--                      (library/folder-removal.ts)
CREATE TABLE evaluation_jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id INTEGER,
  adapter_id INTEGER REFERENCES adapters(id) ON DELETE SET NULL,
  model_id INTEGER REFERENCES models(id) ON DELETE SET NULL,
  model_fingerprint TEXT,
  data_path TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'stopping', 'ended', 'interrupted')),
  owner_token TEXT NOT NULL,
  owner_pid INTEGER,
  created_at INTEGER NOT NULL
);
CREATE INDEX evaluation_jobs_active ON evaluation_jobs (status) WHERE status IN ('queued', 'running', 'stopping');
