// The forms a library model's frozen weights can be used in (none / int8 / int4), each with the
// memory its weights take while chatting and training, from the engine's own estimate
// (native-runtime/quantize/memory.ts). Shown on the Models page and in the Train wizard.

import { baseWeightBytes, hostAutoForm } from '../../../native-runtime/quantize/memory.ts';
import { QUANTIZE_OPTION_CHOICES, type QuantizeOption } from '../../../native-runtime/training/options.ts';
import { formatBytes } from './format.ts';

export interface BaseFormModel {
  params: number;
  hiddenSize: number | null;
  vocabSize: number | null;
  config: Record<string, unknown>;
}

export interface BaseFormChoice {
  value: QuantizeOption;
  label: string;
  help: string;
  chatBytes: number;
  trainBytes: number;
  /** "8-bit — 1.3 GB to chat, 2.5 GB to train" */
  text: string;
}

/**
 * The choices for a model; with the computer's memory (system/info), Automatic names the form it
 * picks on this computer's CPU (runtime/precision.ts; on a GPU it keeps the checkpoint's weights).
 */
export function baseFormChoices(
  m: BaseFormModel,
  memoryBytes?: number,
  use: 'chat' | 'train' = 'chat',
): BaseFormChoice[] {
  const shape = {
    params: m.params,
    hiddenSize: m.hiddenSize ?? 0,
    vocabSize: m.vocabSize ?? 0,
    tied: m.config.tie_word_embeddings !== false,
  };
  const label = (v: QuantizeOption) => QUANTIZE_OPTION_CHOICES.find((c) => c.value === v)?.label ?? v;
  const here = memoryBytes ? hostAutoForm(shape, use, memoryBytes) : null;
  return QUANTIZE_OPTION_CHOICES.map((c) => {
    // Automatic is decided where the model runs: its figures are those of the form it picks here.
    const form = c.value === 'auto' ? (here ?? 'none') : c.value;
    const chatBytes = baseWeightBytes(shape, form, 'chat');
    const trainBytes = baseWeightBytes(shape, form, 'train');
    const train = trainBytes === chatBytes ? '' : `, ${formatBytes(trainBytes)} to train`;
    return {
      value: c.value,
      label: c.label,
      help: c.help,
      chatBytes,
      trainBytes,
      text:
        c.value !== 'auto'
          ? `${c.label} — weights ${formatBytes(chatBytes)}${train}`
          : here
            ? `${c.label} (${label(here).toLowerCase()} on this computer's CPU) — weights ${formatBytes(chatBytes)}${train}`
            : `${c.label} — full precision where it fits in memory, else 8 or 4 bits`,
    };
  });
}
