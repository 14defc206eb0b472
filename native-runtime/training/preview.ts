// The intervention preview: one dataset example exactly as training sees it — the token ids after
// the chat template and truncation (data.ts), which tokens carry the loss, and for every
// intervention (positions.ts: the same planInterventions and interventionLocations the batches are
// built with) the positions it reads and writes, with pyreft's clipping at half the prompt and its
// −1 padding slots. Nothing here decides anything on its own, so the preview cannot disagree with
// training.

import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import type { ResolvedTrainConfig } from './config.ts';
import { promptUsesChatTemplate, type TextExample, tokenizeExample } from './data.ts';
import { interventionLocations, isUntied, parsePositions, planInterventions } from './positions.ts';

export interface PreviewToken {
  id: number;
  /** The text this token adds ('' while a multi-byte character is incomplete). */
  text: string;
  /** The vocabulary entry ('Ġthe', '<|im_start|>'). */
  piece: string;
  /** In the loss: a completion token the model learns to predict. */
  loss: boolean;
}

export interface PreviewIntervention {
  key: string;
  layer: number;
  /** Untied: the prefix or the suffix positions; tied: both ('all'). */
  role: 'prefix' | 'suffix' | 'all';
  /** Token positions it reads and overwrites (in the prompt). */
  positions: number[];
  /** Padding slots (−1 in pyreft's location lists): asked-for positions the prompt could not give. */
  padding: number;
}

export interface ExamplePreview {
  /** The example's line in the dataset file. */
  line: number;
  tokens: PreviewToken[];
  promptLen: number;
  /** Cut to the max length (the prompt from its start, the completion from its end). */
  truncated: boolean;
  /** The prompt went through the model's chat template. */
  chatTemplate: boolean;
  /** What was asked for and what the prompt allowed: each side is clipped at ⌊prompt length / 2⌋. */
  asked: { first: number; last: number };
  used: { first: number; last: number };
  untied: boolean;
  /** Untied, but clipping left one side empty: every intervention gets the tied list (pyreft). */
  tiedFallback: boolean;
  interventions: PreviewIntervention[];
}

export type PreviewConfig = Pick<
  ResolvedTrainConfig,
  'positions' | 'layers' | 'shareWeights' | 'maxLength' | 'chatTemplate'
>;

/** The preview of `ex` under `cfg` (resolved, as the trainer resolves it). */
export function previewExample(
  tok: Tokenizer,
  ex: TextExample,
  cfg: PreviewConfig,
  eosId: number | null,
): ExamplePreview {
  const t = tokenizeExample(tok, ex, { maxLength: cfg.maxLength, chatTemplate: cfg.chatTemplate, eosId });
  const pos = parsePositions(cfg.positions, cfg.maxLength);
  const untied = isUntied(pos, cfg.shareWeights);
  const planned = planInterventions(cfg.layers, pos, cfg.shareWeights);
  const locs = interventionLocations(t.promptLen, pos, planned.length, untied);
  const half = Math.floor(t.promptLen / 2);
  const used = { first: Math.min(half, pos.first), last: Math.min(half, pos.last) };
  const decoder = tok.streamDecoder({ skipSpecialTokens: false });
  const pieces = tok.tokens(t.ids);
  return {
    line: t.line,
    tokens: t.ids.map((id, i) => ({
      id,
      text: decoder.push(id),
      piece: pieces[i] ?? '',
      loss: i >= t.promptLen,
    })),
    promptLen: t.promptLen,
    truncated: t.truncated,
    chatTemplate: promptUsesChatTemplate(ex.kind, cfg.chatTemplate, tok),
    asked: { first: pos.first, last: pos.last },
    used,
    untied,
    tiedFallback: untied && (used.first === 0 || used.last === 0),
    interventions: planned.map((p, j) => {
      const list = locs[j] ?? [];
      return {
        key: p.key,
        layer: p.layer,
        role: p.role,
        positions: list.filter((x) => x >= 0),
        padding: list.filter((x) => x < 0).length,
      };
    }),
  };
}
