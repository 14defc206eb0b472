-- What an imported adapter holds (native-runtime/adapters/folders.ts adapterContentHash: its manifest
-- but for when it was read in, and every trained value), so that importing the same folder again
-- finds the adapter already there instead of adding a second identical one. NULL for adapters a run
-- trained and for imports recorded before this column existed.
ALTER TABLE adapters ADD COLUMN content_hash TEXT;
CREATE INDEX adapters_content_hash ON adapters (content_hash);
