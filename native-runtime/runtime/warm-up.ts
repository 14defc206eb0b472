// How many untimed steps come before timed ones wherever the engine's speed is measured: the bench
// commands (bench/bench.ts) and the studio's training-time estimate (calibrateTask).

/**
 * Untimed runs before the timed steps, prefill's passes and training's optimizer steps alike: a
 * session's second run still pays start-up costs (ONNX Runtime's memory plan and arena are settled
 * after its first runs). With one, the first timed step carried them: 1.5–3× a later prefill pass,
 * and 1.5–5× the CPU time of a later training step, on the demo model and the llama fixture (the
 * estimate's second step on the llama fixture, 4 × 128: a median 69 CPU ms against 46 later).
 * Echoed in bench results as `warmup_steps`, so figures taken under another policy are not compared.
 */
export const WARMUP_STEPS = 2;
