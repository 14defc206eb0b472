-- How far a run's data preparation is (rows tokenized of the total), recorded by the process that
-- trains it where no studio job reports it: `reft-studio train` beside an open studio, whose Runs page
-- reads it back (runs/list's `preparing`), pushed by its watcher of outside changes. NULL when no
-- preparation is under way (cleared when it ends), and for the studio's own runs (their job reports it).
ALTER TABLE runs ADD COLUMN prepared_rows INTEGER;
ALTER TABLE runs ADD COLUMN prepare_total INTEGER;
