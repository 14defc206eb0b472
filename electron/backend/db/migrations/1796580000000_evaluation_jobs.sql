-- Evaluations the studio has queued or is running, from the moment they are queued (their row in
-- evaluations comes only once the engine has checked the request), with what they read: so that a
-- removal or a start-up sweep in any process (the CLI beside `serve`) leaves their adapter, model
-- and dataset file alone (library/evaluation-jobs.ts). 'stopping': cancelled, the engine not yet
-- let go. 'ended' once the engine has let go; left queued/running/stopping by a process that died,
-- 'interrupted' at the next start-up (db/database.ts, by the owner lock, as runs are).
-- job_id: the studio's job id, which a later process's job ids continue after (host.ts).
CREATE TABLE evaluation_jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id INTEGER NOT NULL,
  adapter_id INTEGER REFERENCES adapters(id) ON DELETE SET NULL,
  model_id INTEGER REFERENCES models(id) ON DELETE SET NULL,
  data_path TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'stopping', 'ended', 'interrupted')),
  owner_token TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX evaluation_jobs_active ON evaluation_jobs (status) WHERE status IN ('queued', 'running', 'stopping');
