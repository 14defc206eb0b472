// Recipes for the Train wizard: the hyperparameters of the LoReFT paper's experiments (Wu et al.
// 2024; pyreft's examples/loreft/README.md) and of pyreft's README demo, carried over to the chosen
// model (layers by their depth, the max length within the model's positions). A recipe sets every
// option that shapes the result and says why; the data choices (held-out rows and what is judged on
// them: keep the best, early stopping), checkpoints, the device and the base weights' precision stay
// as the user set them.

import type { ModelShapeForTraining, TrainOptionKey, TrainOptions } from '../rpc/handlers.ts';
import { layersAt } from './layers.ts';

/** The options a recipe sets: all but the held-out data's, checkpoints and the machine's choices. */
export type RecipeOptions = Required<
  Omit<
    TrainOptions,
    | 'evalSplit'
    | 'evalEvery'
    | 'keepBest'
    | 'earlyStoppingPatience'
    | 'checkpointEvery'
    | 'keepCheckpoints'
    | 'device'
    | 'quantize'
    | 'dtype'
  >
>;

/** What a recipe fits its options to: the model's depth (layers) and positions (max length). */
export type RecipeShape = Pick<ModelShapeForTraining, 'numLayers' | 'maxPositions'>;

export interface Recipe {
  id: 'behaviour' | 'commonsense' | 'arithmetic' | 'instruction';
  title: string;
  /** What it is for, in one line. */
  summary: string;
  /** Why these settings: where they come from and what they do. */
  why: string;
  /** Where it is from. */
  source: string;
  /** A short reason for the settings a person may wonder about, shown beside the field. */
  notes: Partial<Record<TrainOptionKey, string>>;
  options(model: RecipeShape): RecipeOptions;
}

const base = {
  intervention: 'loreft',
  act: 'linear',
  dropout: 0,
  maxSteps: 0,
  weightDecay: 0,
  schedule: 'linear',
  maxGradNorm: 1,
  seed: 42,
  chatTemplate: 'auto',
} as const;

/** The paper's reasoning recipe (LLaMA-7B): all layers, f7+l7 tied, rank 8, lr 9e-4. */
function reasoning(epochs: number) {
  return (m: RecipeShape): RecipeOptions => ({
    ...base,
    layers: 'all',
    positions: 'f7+l7',
    shareWeights: true,
    rank: 8,
    lr: 9e-4,
    epochs,
    batchSize: 16,
    gradAccum: 2,
    maxLength: Math.min(512, m.maxPositions),
    warmupRatio: 0.1,
  });
}

export const RECIPES: readonly Recipe[] = [
  {
    id: 'behaviour',
    title: 'A few examples → a new behaviour',
    summary: 'Teach a style or persona from ten or so examples, as pyreft’s emoji demo does.',
    why:
      'pyreft’s README teaches a chat model to answer only in emojis from 10 examples: one LoReFT ' +
      'intervention on the last prompt token of a layer a quarter of the way up (layer 8 of 32), rank 4, ' +
      'learning rate 4e-3, 100 epochs with all examples in one batch. So few rows are learned by heart, ' +
      'which is the point; add probe prompts to watch the new behaviour appear.',
    source: 'pyreft README (Llama-2-7b-chat)',
    notes: {
      layers: 'one layer a quarter of the way up (layer 8 of 32 in the demo)',
      positions: 'the last prompt token only: it steers what comes next',
      epochs: 'many passes over a tiny set',
      batchSize: 'all ten examples at once',
      lr: 'high, for a small, fast-learning edit',
    },
    options: (m) => ({
      ...base,
      layers: layersAt([8 / 31], m.numLayers).join(';'),
      positions: 'l1',
      shareWeights: false,
      rank: 4,
      lr: 4e-3,
      epochs: 100,
      batchSize: 10,
      gradAccum: 1,
      maxLength: Math.min(512, m.maxPositions),
      warmupRatio: 0,
    }),
  },
  {
    id: 'commonsense',
    title: 'Commonsense reasoning',
    summary: 'Short answers to questions (multiple choice, yes/no), as in the paper’s Commonsense170K runs.',
    why:
      'The LoReFT paper’s commonsense recipe (LLaMA-7B on Commonsense170K): every layer, the first 7 and ' +
      'last 7 prompt tokens with one shared (tied) intervention per layer, rank 8, learning rate 9e-4, ' +
      '6 epochs, batch 16 with 2 accumulation steps, 10% warm-up. The answer is short, so the edit ' +
      'works on the question.',
    source: 'LoReFT paper §4.2; pyreft examples/loreft',
    notes: {
      layers: 'every layer, as in the paper',
      positions: 'first and last 7 prompt tokens',
      shareWeights: 'one intervention per layer for both ends',
      rank: 'rank 8, as in the paper',
      warmupRatio: '10% warm-up',
    },
    options: reasoning(6),
  },
  {
    id: 'arithmetic',
    title: 'Arithmetic reasoning',
    summary: 'Word problems answered step by step, as in the paper’s Math10K runs.',
    why:
      'The LoReFT paper’s arithmetic recipe (LLaMA-7B on Math10K) is the commonsense one trained twice ' +
      'as long: every layer, first and last 7 prompt tokens tied, rank 8, learning rate 9e-4, 12 epochs, ' +
      'batch 16 with 2 accumulation steps, 10% warm-up. Chains of thought are long answers; more passes help.',
    source: 'LoReFT paper §4.3; pyreft examples/loreft',
    notes: {
      epochs: '12 epochs: twice the commonsense recipe',
      positions: 'first and last 7 prompt tokens',
      shareWeights: 'one intervention per layer for both ends',
    },
    options: reasoning(12),
  },
  {
    id: 'instruction',
    title: 'Instruction following',
    summary: 'A general assistant from instruction/answer pairs, as in the paper’s UltraFeedback runs.',
    why:
      'The LoReFT paper’s instruction-following recipe (Llama-2-7B on UltraFeedback): four layers spread ' +
      'through the model (3, 9, 18 and 24 of 32), the first and last 5 prompt tokens with separate ' +
      '(untied) interventions, rank 4, learning rate 9e-4, 9 epochs, batch 4 with 32 accumulation steps, ' +
      'prompts up to 768 tokens.',
    source: 'LoReFT paper §4.4; pyreft examples/loreft',
    notes: {
      layers: 'four layers at the depths of 3, 9, 18, 24 out of 32',
      positions: 'first and last 5 prompt tokens, untied',
      gradAccum: 'an effective batch of 128',
      maxLength: '768 tokens in the paper (within the model’s positions)',
    },
    options: (m) => ({
      ...base,
      layers: layersAt([3 / 31, 9 / 31, 18 / 31, 24 / 31], m.numLayers).join(';'),
      positions: 'f5+l5',
      shareWeights: false,
      rank: 4,
      lr: 9e-4,
      epochs: 9,
      batchSize: 4,
      gradAccum: 32,
      maxLength: Math.min(768, m.maxPositions),
      warmupRatio: 0,
    }),
  },
];
