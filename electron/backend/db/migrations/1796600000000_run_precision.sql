-- The precision a run's frozen model really computed in (fp32, fp16 or bf16), beside the one its
-- config asked for (config_json's "dtype": auto picks per device, so a bf16 checkpoint trained on the
-- CPU computes in fp32). Set with runs.device when the engine has created the session, again on each
-- resume; NULL for a run that never got that far, and for runs recorded before this column existed
-- (what they computed in is not known: they show none, never a guess).
ALTER TABLE runs ADD COLUMN precision TEXT;
