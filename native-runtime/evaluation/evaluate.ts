// Evaluating an adapter on a dataset (the studio's 'evaluations/run'), four kinds:
//   loss             token-weighted held-out loss and perplexity, adapter and base model side by side
//   exact-match      greedy generation; right when the output matches the completion (metrics.ts:
//                    the last number for numeric answers, as the ReFT paper's arithmetic evaluation)
//   multiple-choice  greedy generation; right when the first option named matches the completion's
//                    (the commonsense evaluation's answer extraction)
//   compare          base and adapter generations for the same prompts, side by side
// Prompts are the dataset's prompts as training reads them (alpaca: instruction + input; chat: every
// turn but the last, through the chat template, the answer being the assistant's next turn).
// Progress counts examples: where the base model is measured too, both models take each batch in
// turn, so an example is done once both have it.
// Leaves out: sampling-based metrics (pass@k) and batching across evaluations.

import { CancelledError, ConfigError } from '../errors.ts';
import type { Notify } from '../notices.ts';
import type { DeviceChoice, DeviceUsed } from '../runtime/session.ts';
import { readDataset, type TextExample } from '../training/data.ts';
import {
  accuracy,
  choiceMatch,
  exactMatch,
  extractChoice,
  extractLastNumber,
  perplexity,
} from './metrics.ts';
import {
  adapterNeedsChatTemplateError,
  type ChatMessage,
  noChatTemplateError,
  type PromptInput,
  type PromptReader,
} from './prompt-reader.ts';
import { type BatchLoss, lossResult, ModelRunner } from './runner.ts';

export const EVAL_KINDS = ['loss', 'exact-match', 'multiple-choice', 'compare'] as const;
export type EvalKind = (typeof EVAL_KINDS)[number];

export interface EvaluateInput {
  model: string;
  adapter: string;
  data: string;
  kind: EvalKind;
  /** Evaluate only the first N examples. */
  limit?: number;
  maxNewTokens?: number;
  batchSize?: number;
  maxLength?: number;
  /** The intervention positions of a pyreft folder that does not record them (e.g. f1+l1). */
  positions?: string;
  device?: DeviceChoice;
  /** The base weights' form (none|int8|int4) and the data folder holding converted forms. */
  quantize?: string;
  dataDir?: string;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
  /** What loading the models says before the first example (a conversion, the session opening). */
  onNotice?: Notify;
  /**
   * Called once the request is checked (adapter, data, every prompt), before the models load: from
   * here on it is an evaluation that ran, which a history records; before, a refused request.
   */
  onStart?: () => void;
  /**
   * Awaited after onStart, before the session opens: the studio's engine releases its kept sessions of
   * the same model there, after the answer one is writing (engine-tasks.ts releaseRunnersOf): they
   * would hold the weights again.
   */
  beforeLoad?: () => Promise<void>;
}

export interface EvalSample {
  prompt: string;
  reference: string;
  output?: string;
  baseOutput?: string;
  extracted?: string | number | null;
  correct?: boolean;
}

export interface EvaluationReport {
  kind: EvalKind;
  examples: number;
  metrics: Record<string, number>;
  /** The first MAX_SAMPLES examples with their outputs. */
  samples: EvalSample[];
  /** Where the adapter's session ran (the base model's, loaded the same way, runs there too). */
  device: DeviceUsed;
}

export const MAX_SAMPLES = 50;

/** What the model reads: a text, or a chat example's conversation (as training encodes it). */
function promptOf(ex: TextExample): PromptInput {
  return ex.kind === 'text' ? ex.prompt : { messages: ex.messages as ChatMessage[] };
}

/** A prompt as a sample shows it: a conversation's last user turn (the question it asks). */
function shownPrompt(ex: TextExample): string {
  if (ex.kind === 'text') return ex.prompt;
  const text = (c: unknown) => (typeof c === 'string' ? c : JSON.stringify(c ?? ''));
  const users = ex.messages.filter((m) => m.role === 'user');
  return users.length
    ? text(users[users.length - 1].content)
    : ex.messages.map((m) => text(m.content)).join('\n');
}

/**
 * Every prompt checked before the model loads (`reader` needs only its tokenizer), the error naming
 * its line: a long evaluation does not fail at its last batch, nor after a base conversion, with a
 * message that does not say which example.
 */
function checkPrompts(
  reader: PromptReader,
  path: string,
  examples: TextExample[],
  prompts: PromptInput[],
  opts: { chat: boolean; maxNewTokens: number },
) {
  prompts.forEach((p, i) => {
    try {
      // One at a time: a batch's longest prompt decides its check, and is checked alone here too.
      reader.request([p], opts);
    } catch (e) {
      if (e instanceof ConfigError)
        throw new ConfigError(e.code, `${path}: line ${examples[i].line}: ${e.message}`);
      throw e;
    }
  });
}

/** The longest answer an evaluation generates. */
const newTokens = (input: EvaluateInput): number => input.maxNewTokens ?? 64;

/**
 * Runs `step` on `count` examples a batch at a time, then reports the batch's examples done. Where an
 * evaluation measures the base model too, `step` runs both models on the batch: an example counts
 * once, when both have it, so progress reads in the examples the result reports (counting each
 * model's pass, a loss on 4 examples showed 8/8).
 */
async function inBatches(
  count: number,
  input: EvaluateInput,
  step: (from: number, to: number) => Promise<void>,
): Promise<void> {
  const bs = input.batchSize ?? 8;
  for (let from = 0; from < count; from += bs) {
    if (input.signal?.aborted) throw new CancelledError('evaluation cancelled');
    const to = Math.min(from + bs, count);
    await step(from, to);
    input.onProgress?.(to, count);
  }
}

/**
 * Greedy answers to every prompt, batch by batch (inBatches), from each pass of `runner`'s session:
 * `false` the adapter, `true` the base model (ModelRunner `base`).
 */
async function generateAll(
  runner: ModelRunner,
  passes: boolean[],
  prompts: PromptInput[],
  input: EvaluateInput,
  chat: boolean,
): Promise<string[][]> {
  const out: string[][] = passes.map(() => []);
  await inBatches(prompts.length, input, async (from, to) => {
    for (const [i, base] of passes.entries()) {
      const res = await runner.generate(prompts.slice(from, to), {
        chat,
        maxNewTokens: newTokens(input),
        greedy: true,
        signal: input.signal,
        base,
      });
      out[i].push(...res.map((r) => r.text));
    }
  });
  return out;
}

export async function evaluateAdapter(input: EvaluateInput): Promise<EvaluationReport> {
  const ds = readDataset(input.data);
  const examples = input.limit ? ds.examples.slice(0, input.limit) : ds.examples;
  const opts = {
    device: input.device,
    quantize: input.quantize,
    dataDir: input.dataDir,
    onNotice: input.onNotice,
  };
  const opened = ModelRunner.open(input.model, input.adapter, { ...opts, positions: input.positions });
  // A chat dataset on a model without a chat template: refused with what an evaluation can do
  // instead (the loss would fail inside the tokenizer, generation with a chat window's advice).
  const conversation = examples.find((ex) => ex.kind === 'chat');
  if (conversation && !opened.reader.tokenizer.chatTemplate) {
    const e = noChatTemplateError('evaluate on a dataset of prompts and completions instead');
    throw new ConfigError(e.code, `${ds.path}: line ${conversation.line}: ${e.message}`);
  }
  const prompts = examples.map(promptOf);
  const refs = examples.map((e) => e.completion);
  // The base model reads the prompts as the adapter was trained on them (chat template or plain
  // text); with its own default it would be measured on other prompts than the adapter.
  const chat = opened.reader.usesChatTemplate;
  // An adapter trained through the chat template, on a copy of its base without one: its prompts
  // cannot be read as it was trained on them (the loss read them plain, unsaid), whatever the kind.
  if (chat && !opened.reader.tokenizer.chatTemplate)
    throw adapterNeedsChatTemplateError(opened.reader.adapterName);
  // What the examples cannot give is refused here, before a conversion or a session (minutes).
  const lossRows =
    input.kind === 'loss'
      ? opened.reader.lossRows({ ...ds, examples }, { chat, maxLength: input.maxLength })
      : null;
  if (input.kind !== 'loss')
    checkPrompts(opened.reader, ds.path, examples, prompts, { chat, maxNewTokens: newTokens(input) });
  // So is a model the computer's memory cannot hold (the base model's load is the same model's).
  await opened.checkMemory();
  input.onStart?.();
  await input.beforeLoad?.();
  const adapter = await opened.load();
  // The base model runs on the adapter's session, its interventions given no positions (runner.ts
  // `base`): a second session would map every weight again, and RSS counts each mapping (a 1.1B
  // model's loss evaluation peaked at 14 GB RSS for 5.8 GB PSS with three sessions in the process).
  try {
    // Loaded: from here on the job is evaluating ("0 of N examples"), not still loading until its
    // first batch ends (31 s for a 1.1B model's first batch of losses).
    input.onProgress?.(0, examples.length);

    if (input.kind === 'loss' && lossRows) {
      const parts: BatchLoss[][] = [[], []];
      await inBatches(lossRows.length, input, async (from, to) => {
        const chunk = lossRows.slice(from, to);
        parts[0].push(await adapter.batchLoss(chunk));
        parts[1].push(await adapter.batchLoss(chunk, { base: true }));
      });
      const [a, b] = parts.map((p) => lossResult(lossRows, p));
      return {
        kind: 'loss',
        device: adapter.deviceUsed,
        examples: a.examples,
        metrics: {
          loss: a.loss,
          perplexity: perplexity(a.loss),
          baseLoss: b.loss,
          basePerplexity: perplexity(b.loss),
          tokens: a.tokens,
          // Examples longer than maxLength were measured on their cut form: said, not hidden.
          ...(a.truncated ? { truncated: a.truncated } : {}),
        },
        samples: [],
      };
    }

    if (input.kind === 'compare') {
      const [outputs, baseOutputs] = await generateAll(adapter, [false, true], prompts, input, chat);
      const same = outputs.filter((o, i) => o === baseOutputs[i]).length;
      return {
        kind: 'compare',
        device: adapter.deviceUsed,
        examples: examples.length,
        metrics: { identical: same, differing: examples.length - same },
        samples: examples.slice(0, MAX_SAMPLES).map((ex, i) => ({
          prompt: shownPrompt(ex),
          reference: refs[i],
          output: outputs[i],
          baseOutput: baseOutputs[i],
        })),
      };
    }
    const [outputs] = await generateAll(adapter, [false], prompts, input, chat);
    const mc = input.kind === 'multiple-choice';
    const correct = outputs.map((o, i) => (mc ? choiceMatch(o, refs[i]) : exactMatch(o, refs[i])));
    const acc = accuracy(correct);
    return {
      kind: input.kind,
      device: adapter.deviceUsed,
      examples: examples.length,
      metrics: { accuracy: acc.accuracy, correct: acc.correct, total: acc.total },
      samples: examples.slice(0, MAX_SAMPLES).map((ex, i) => ({
        prompt: shownPrompt(ex),
        reference: refs[i],
        output: outputs[i],
        extracted: mc ? extractChoice(outputs[i]) : extractLastNumber(outputs[i]),
        correct: correct[i],
      })),
    };
  } finally {
    await adapter.release();
  }
}
