// The tokenizer's part of planning a run: the probe prompts' check (runs/start, runs/estimate,
// runs/preview) and the Train wizard's example preview. A tokenizer.json comes with the model, and
// its patterns can backtrack for hours on one text (tokenizer/pattern-check.ts), so for the studio
// these run in the engine's 'tokens' process, where a tokenization past its deadline gets the
// process killed and the request one clear error (tokenizer/tokenize-watchdog.ts), never on the RPC
// loop. The CLI runs them in-process.

import { ConfigError, ValidationError } from '../../../native-runtime/errors.ts';
import { PromptReader } from '../../../native-runtime/evaluation/prompt-reader.ts';
import { keptModelFolder } from '../../../native-runtime/models/model-folder.ts';
import {
  type DataFormat,
  specialIds,
  type TextExample,
  trainsThroughChatTemplate,
} from '../../../native-runtime/training/data.ts';
import {
  type ExamplePreview,
  type PreviewConfig,
  previewExample,
} from '../../../native-runtime/training/preview.ts';
import type { ProbeConfig } from '../jobs/run-params.ts';

export interface ProbeCheckArgs {
  model: string;
  format: DataFormat;
  chatTemplate: 'auto' | 'none';
  probe: ProbeConfig;
}

/**
 * Refuses probe prompts the model cannot answer (too long for its positions, empty, …) before the
 * run is recorded: the trainer asks them only once the model has loaded, and a refused one failed
 * the base model's answers and then every checkpoint's. Each is read as the run will ask it
 * (evaluation/prompt-reader.ts): by the base model, through its chat template where it has one; at
 * checkpoints, as the adapter was trained (trainsThroughChatTemplate).
 */
export function checkProbePrompts(a: ProbeCheckArgs): void {
  const { spec, tokenizer } = keptModelFolder(a.model);
  if (!tokenizer) return; // planRun refused the run already
  const reader = new PromptReader(spec, tokenizer, null);
  const chat = new Set([
    reader.usesChatTemplate,
    trainsThroughChatTemplate(a.format, a.chatTemplate, tokenizer),
  ]);
  const { prompts, maxNewTokens } = a.probe;
  prompts.forEach((prompt, i) => {
    try {
      for (const c of chat) reader.request([prompt], { chat: c, maxNewTokens });
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      const field = `probe.prompts.${i}`;
      const where = prompts.length > 1 ? `probe prompt ${i + 1} of ${prompts.length}` : 'the probe prompt';
      throw Object.assign(new ValidationError(e.code, `${where}: ${e.message}`), { field });
    }
  });
}

export interface PreviewTokensArgs {
  model: string;
  example: TextExample;
  config: PreviewConfig;
  /** The run's probe prompts, checked first: one call to the process rather than two. */
  probe: ProbeCheckArgs | null;
}

/**
 * The run's probe prompts checked as runs/start checks them, then one example tokenized and
 * intervened as training will (training/preview.ts).
 */
export function previewTokens(a: PreviewTokensArgs): ExamplePreview & { numLayers: number } {
  if (a.probe) checkProbePrompts(a.probe);
  const { spec, tokenizer, dir } = keptModelFolder(a.model);
  if (!tokenizer) throw new ConfigError('missing-tokenizer', `${dir}: no tokenizer.json; training needs one`);
  const { eosId } = specialIds(tokenizer, spec);
  return { ...previewExample(tokenizer, a.example, a.config, eosId), numLayers: spec.numLayers };
}
