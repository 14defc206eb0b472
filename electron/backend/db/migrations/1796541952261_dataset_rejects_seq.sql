-- dataset_rejects is keyed by (version_id, seq), seq the place of a rejected row among those the
-- import left out (0, 1, …, in file order), no longer by (version_id, line): the rows of a JSON list
-- written on one line (json.dump's default) all start on line 1, and every rejected row after the
-- first was silently dropped from the review. Rows already kept get their seq in line order.
CREATE TABLE dataset_rejects_by_seq (
  version_id INTEGER NOT NULL REFERENCES dataset_versions(id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  line INTEGER NOT NULL,
  message TEXT NOT NULL,
  text TEXT,
  PRIMARY KEY (version_id, seq)
);
INSERT INTO dataset_rejects_by_seq (version_id, seq, line, message, text)
  SELECT version_id, ROW_NUMBER() OVER (PARTITION BY version_id ORDER BY line) - 1, line, message, text
  FROM dataset_rejects;
DROP TABLE dataset_rejects;
ALTER TABLE dataset_rejects_by_seq RENAME TO dataset_rejects;
