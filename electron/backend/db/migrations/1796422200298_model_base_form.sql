-- The form a library model's frozen weights are used in (additive): 'none' (the checkpoint's own
-- precision; fp32 on the CPU), 'int8' or 'int4' (quantized linear layers, native-runtime/quantize).
-- Runs default to it; converted weights live in <data>/bases/<fingerprint>/ and go with the model.
ALTER TABLE models ADD COLUMN quantize TEXT NOT NULL DEFAULT 'none';
