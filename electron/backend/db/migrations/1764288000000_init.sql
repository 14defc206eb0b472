-- First schema of the library. Times are epoch milliseconds; *_json columns hold JSON text.
-- Deleting a model, dataset or run keeps the history that refers to it (ON DELETE SET NULL).

CREATE TABLE models (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  path TEXT NOT NULL UNIQUE,
  arch TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  config_json TEXT NOT NULL,
  params INTEGER,
  dtype TEXT,
  size_bytes INTEGER,
  source TEXT NOT NULL DEFAULT 'local',
  is_demo INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);

CREATE TABLE datasets (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  is_demo INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);

CREATE TABLE dataset_versions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  version INTEGER NOT NULL,
  frozen INTEGER NOT NULL DEFAULT 1,
  format TEXT NOT NULL CHECK (format IN ('prompt-completion', 'alpaca', 'chat')),
  content_hash TEXT NOT NULL,
  row_count INTEGER NOT NULL,
  rejected_count INTEGER NOT NULL DEFAULT 0,
  file_path TEXT NOT NULL,
  size_bytes INTEGER NOT NULL,
  source_path TEXT,
  created_at INTEGER NOT NULL,
  UNIQUE (dataset_id, version)
);

CREATE TABLE runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT,
  model_id INTEGER REFERENCES models(id) ON DELETE SET NULL,
  dataset_version_id INTEGER REFERENCES dataset_versions(id) ON DELETE SET NULL,
  config_json TEXT NOT NULL DEFAULT '{}',
  status TEXT NOT NULL DEFAULT 'queued'
    CHECK (status IN ('queued', 'running', 'paused', 'interrupted', 'completed', 'failed', 'cancelled')),
  error TEXT,
  owner_pid INTEGER,
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  wall_time_ms INTEGER,
  system_info_json TEXT
);
CREATE INDEX runs_status ON runs(status);

CREATE TABLE run_metrics (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  step INTEGER NOT NULL,
  epoch REAL,
  loss REAL,
  lr REAL,
  grad_norm REAL,
  tokens_per_s REAL,
  eval_loss REAL,
  created_at INTEGER NOT NULL,
  UNIQUE (run_id, step)
);

CREATE TABLE checkpoints (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  step INTEGER NOT NULL,
  path TEXT NOT NULL,
  size_bytes INTEGER,
  created_at INTEGER NOT NULL
);

CREATE TABLE adapters (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  path TEXT NOT NULL,
  type TEXT NOT NULL,
  base_model_fingerprint TEXT NOT NULL,
  manifest_json TEXT NOT NULL DEFAULT '{}',
  run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,
  dataset_version_id INTEGER REFERENCES dataset_versions(id) ON DELETE SET NULL,
  size_bytes INTEGER,
  created_at INTEGER NOT NULL
);

CREATE TABLE adapter_tags (
  adapter_id INTEGER NOT NULL REFERENCES adapters(id) ON DELETE CASCADE,
  tag TEXT NOT NULL,
  PRIMARY KEY (adapter_id, tag)
);

CREATE TABLE evaluations (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  adapter_id INTEGER REFERENCES adapters(id) ON DELETE CASCADE,
  model_id INTEGER REFERENCES models(id) ON DELETE SET NULL,
  dataset_version_id INTEGER REFERENCES dataset_versions(id) ON DELETE SET NULL,
  metrics_json TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL
);

CREATE TABLE generations (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  model_id INTEGER REFERENCES models(id) ON DELETE SET NULL,
  adapter_id INTEGER REFERENCES adapters(id) ON DELETE SET NULL,
  prompt TEXT NOT NULL,
  output TEXT NOT NULL,
  params_json TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL
);

CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value_json TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);
