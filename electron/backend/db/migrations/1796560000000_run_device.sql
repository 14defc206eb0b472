-- Where a run's steps really ran, beside the device its config asked for (config_json's "device"):
-- the provider of its training session (auto's choice, or the CPU when the asked-for one could not
-- start) and why it is not the one asked for. Set when the engine has created the session, again on
-- each resume (the last execution's device); NULL for a run that never got that far, and for runs
-- recorded before this column existed.
ALTER TABLE runs ADD COLUMN device TEXT;
ALTER TABLE runs ADD COLUMN device_fallback TEXT;
