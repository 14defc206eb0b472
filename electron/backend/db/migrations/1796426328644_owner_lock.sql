-- The owner of a running run or evaluation by the lock its process holds (db/owner-lock.ts), not by
-- PID alone: a PID is reused after a crash. Additive; rows from before keep owner_pid only.
ALTER TABLE runs ADD COLUMN owner_token TEXT;
ALTER TABLE evaluations ADD COLUMN owner_token TEXT;
