-- The code of the error a run failed with, beside its message (runs.error), where the failure was a
-- refusal of the run's own settings or data (a ConfigError or ValidationError of the engine). Such a
-- failure follows from what the run stored (its config and frozen dataset version), so resuming it
-- would fail the same way: the CLI and the studio say what to do instead (library/run-failures.ts).
-- NULL for every other failure (a moved model folder, a full disk, a device or memory error), which
-- can be put right and the run resumed; runs failed before this column existed read as NULL too.
ALTER TABLE runs ADD COLUMN error_code TEXT;
