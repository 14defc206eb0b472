-- The studio backend's jobs and data tools (all additive):
--   runs: the base model's fingerprint and the planned step count, recorded at start.
--   dataset_versions: split children (train/validation/test of a parent version, seeded).
--   dataset_row_meta: per-row tags, rating and note, keyed by the row's content hash so they follow
--     the row into later versions of the same dataset.
--   evaluations: what was evaluated (kind) and its status; generations: probe samples of a run.
ALTER TABLE runs ADD COLUMN model_fingerprint TEXT;
ALTER TABLE runs ADD COLUMN total_steps INTEGER;

ALTER TABLE dataset_versions ADD COLUMN parent_version_id INTEGER REFERENCES dataset_versions(id) ON DELETE SET NULL;
ALTER TABLE dataset_versions ADD COLUMN split TEXT CHECK (split IS NULL OR split IN ('train', 'validation', 'test'));
ALTER TABLE dataset_versions ADD COLUMN split_seed INTEGER;
ALTER TABLE dataset_versions ADD COLUMN note TEXT;

CREATE TABLE dataset_row_meta (
  dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  row_hash TEXT NOT NULL,
  rating INTEGER CHECK (rating IS NULL OR rating BETWEEN 1 AND 5),
  tags_json TEXT NOT NULL DEFAULT '[]',
  note TEXT,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (dataset_id, row_hash)
);

ALTER TABLE evaluations ADD COLUMN kind TEXT NOT NULL DEFAULT 'loss';
ALTER TABLE evaluations ADD COLUMN status TEXT NOT NULL DEFAULT 'completed';
CREATE INDEX evaluations_adapter ON evaluations(adapter_id);

ALTER TABLE generations ADD COLUMN run_id INTEGER REFERENCES runs(id) ON DELETE CASCADE;
ALTER TABLE generations ADD COLUMN step INTEGER;
ALTER TABLE generations ADD COLUMN kind TEXT NOT NULL DEFAULT 'playground';
CREATE INDEX generations_run ON generations(run_id, step);
CREATE INDEX checkpoints_run ON checkpoints(run_id, step);
