-- Where a library model came from on the Hugging Face Hub (additive):
--   hub_repo, hub_commit: the repository and commit of a cache snapshot (scanned or downloaded);
--   downloaded: 1 when the studio itself downloaded the files, so removing the model may delete them
--   (files found in the cache or in a folder are never deleted by the studio).
ALTER TABLE models ADD COLUMN hub_repo TEXT;
ALTER TABLE models ADD COLUMN hub_commit TEXT;
ALTER TABLE models ADD COLUMN downloaded INTEGER NOT NULL DEFAULT 0;
