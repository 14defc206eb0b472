-- A library model's base weights default to 'auto' (runtime/precision.ts: the checkpoint's own weights
-- where they fit the device; on the CPU 8-bit, else 4-bit, when float32 would not fit in memory).
-- Rows still at the old default 'none' become 'auto': the same weights wherever 'none' could run (a
-- model whose float32 weights do not fit is now refused under 'none'). New rows are inserted with
-- 'auto' by the library (the column's DEFAULT cannot change without rebuilding the table).
UPDATE models SET quantize = 'auto' WHERE quantize = 'none';
