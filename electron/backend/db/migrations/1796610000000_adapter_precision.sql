-- The precision the base model computed in while an adapter was trained (fp32, fp16 or bf16), so
-- adapters trained on the CPU in fp32 and on a GPU in bf16 can be told apart. A new adapter takes it
-- from its manifest (training writes it there; a studio export's reft_studio.json carries it through
-- an import). An adapter recorded before this column existed takes its run's recorded precision
-- (runs.precision, itself NULL for runs older than it), imports excepted: an import recorded with a
-- content hash came from a folder, whatever run id its manifest names. NULL means not known: a
-- pyreft folder records none, and none is guessed.
ALTER TABLE adapters ADD COLUMN precision TEXT;
UPDATE adapters SET precision = (SELECT r.precision FROM runs r WHERE r.id = adapters.run_id)
  WHERE run_id IS NOT NULL AND content_hash IS NULL;
