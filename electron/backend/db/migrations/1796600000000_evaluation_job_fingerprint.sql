-- The base model's fingerprint each evaluation job reads its model with: a model whose files change
-- while the job runs (library/models.ts refreshModel) keeps its old converted weights
-- (bases/<fingerprint>) until no job or run reads them (library/folder-removal.ts). Rows from
-- before take their model's.
ALTER TABLE evaluation_jobs ADD COLUMN model_fingerprint TEXT;
UPDATE evaluation_jobs SET model_fingerprint = (SELECT fingerprint FROM models WHERE models.id = evaluation_jobs.model_id);
