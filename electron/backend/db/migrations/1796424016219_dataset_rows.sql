-- Dataset rows get an identity of their own (additive):
--   datasets.next_row_id: the next row id to hand out in the dataset.
--   dataset_version_rows: the row id of every row of a version, in order (little-endian uint32 BLOB).
--     A row keeps its id into later versions (edits, splits, dropped duplicates, a re-import of the
--     same content), so its annotations follow it; two identical rows have two ids.
--   dataset_row_annotations: tags, rating and note of one row id. Replaces dataset_row_meta, which
--     was keyed by the row's content (annotating one of two identical rows annotated both); a
--     dataset's old entries are moved over the first time it is read (library/dataset-annotations.ts).
--   dataset_rejects: the lines an import left out (line, why, the start of the line), so they can be
--     reviewed after the import; rejected_count stays the exact number.
ALTER TABLE datasets ADD COLUMN next_row_id INTEGER NOT NULL DEFAULT 0;

CREATE TABLE dataset_version_rows (
  version_id INTEGER PRIMARY KEY REFERENCES dataset_versions(id) ON DELETE CASCADE,
  row_ids BLOB NOT NULL
);

CREATE TABLE dataset_row_annotations (
  dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  row_id INTEGER NOT NULL,
  rating INTEGER CHECK (rating IS NULL OR rating BETWEEN 1 AND 5),
  tags_json TEXT NOT NULL DEFAULT '[]',
  note TEXT,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (dataset_id, row_id)
);

CREATE TABLE dataset_rejects (
  version_id INTEGER NOT NULL REFERENCES dataset_versions(id) ON DELETE CASCADE,
  line INTEGER NOT NULL,
  message TEXT NOT NULL,
  text TEXT,
  PRIMARY KEY (version_id, line)
);
