// The off switch of the engine's memory checks (runtime/precision.ts hostMemoryProblem,
// training/recompute.ts hostStepIssue): an estimate can be wrong, so REFT_STUDIO_MEMORY_CHECK=0
// runs what they would refuse, and every refusal names the switch in the same words.

/** REFT_STUDIO_MEMORY_CHECK=0: run what the memory checks would refuse. */
export const memoryCheckSkipped = (): boolean => process.env.REFT_STUDIO_MEMORY_CHECK === '0';

/** The end of every memory refusal: how to run it anyway. */
export const MEMORY_CHECK_HINT = '(REFT_STUDIO_MEMORY_CHECK=0 skips this check)';
