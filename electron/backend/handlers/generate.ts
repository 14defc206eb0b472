// 'generate/*': text generation in the engine worker (the playground). The answer streams as
// 'generate/token' pushes {requestId, text} while the reply waits for the whole text.

import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { ValidationError } from '../../../native-runtime/errors.ts';
import type { FinishReason } from '../../../native-runtime/generation/generator.ts';
import type { BackendContext } from '../context.ts';
import { getAdapter } from '../library/adapters.ts';
import { getModel } from '../library/models.ts';
import { recordGeneration } from '../library/runs.ts';
import { type ClientApi, defineHandlers, handler } from '../rpc/define-handlers.ts';

export interface GenerateReply {
  requestId: string;
  text: string;
  /** Number of tokens generated. */
  tokens: number;
  finishReason: FinishReason;
  promptTokens: number;
  ms: number;
}

const inFlight = new Map<string, AbortController>();

const GenerateParams = z
  .object({
    modelId: z.number().int().positive(),
    adapterId: z.number().int().positive().nullable().optional(),
    prompt: z.string().min(1).max(200_000),
    maxNewTokens: z.number().int().min(1).max(4096).optional(),
    temperature: z.number().min(0).max(10).optional(),
    topP: z.number().gt(0).max(1).optional(),
    topK: z.number().int().min(0).max(1_000_000).optional(),
    repetitionPenalty: z.number().gt(0).max(10).optional(),
    seed: z.number().int().min(0).max(0xffffffff).optional(),
    chat: z.boolean().optional(),
    requestId: z.string().min(1).max(100).optional(),
  })
  .strict();

async function generate(p: z.output<typeof GenerateParams>, ctx: BackendContext): Promise<GenerateReply> {
  const model = getModel(ctx.lib, p.modelId);
  const adapter = p.adapterId ? getAdapter(ctx.lib, p.adapterId) : null;
  if (adapter && adapter.baseModelFingerprint !== model.fingerprint) {
    throw new ValidationError(
      'adapter-mismatch',
      `adapter ${adapter.id} ("${adapter.name}") was trained on another base model than "${model.name}"`,
    );
  }
  const requestId = p.requestId ?? randomUUID();
  if (inFlight.has(requestId))
    throw new ValidationError('duplicate-request', `request ${requestId} is already generating`);
  const ac = new AbortController();
  inFlight.set(requestId, ac);
  const t0 = performance.now();
  try {
    const [out] = await ctx.engine.call(
      'generate',
      {
        model: model.path,
        adapter: adapter?.path ?? null,
        prompts: [p.prompt],
        maxNewTokens: p.maxNewTokens ?? 128,
        temperature: p.temperature,
        topP: p.topP,
        topK: p.topK,
        repetitionPenalty: p.repetitionPenalty,
        seed: p.seed,
        chat: p.chat ?? 'auto',
        quantize: model.quantize,
        dataDir: ctx.lib.dataDir,
      },
      {
        signal: ac.signal,
        onEvent: (_e, d) => ctx.events.emit('generate/token', { requestId, text: d.text }),
      },
    );
    recordGeneration(ctx.lib, {
      modelId: model.id,
      adapterId: adapter?.id ?? null,
      kind: 'playground',
      prompt: p.prompt,
      output: out.text,
      params: {
        maxNewTokens: p.maxNewTokens,
        temperature: p.temperature,
        topP: p.topP,
        topK: p.topK,
        seed: p.seed,
        chat: p.chat,
      },
    });
    return {
      requestId,
      text: out.text,
      tokens: out.tokens,
      finishReason: out.finishReason,
      promptTokens: out.promptTokens,
      ms: performance.now() - t0,
    };
  } finally {
    inFlight.delete(requestId);
  }
}

export const generateHandlers = defineHandlers({
  'generate/run': handler(GenerateParams, generate),
  /** Stops a generation started with that requestId; its generate/run answers with a 'cancelled' error. */
  'generate/cancel': handler(
    z.object({ requestId: z.string().min(1).max(100) }).strict(),
    (p): { cancelled: boolean } => {
      const ac = inFlight.get(p.requestId);
      ac?.abort();
      return { cancelled: !!ac };
    },
  ),
});

export type GenerateHandlers = ClientApi<typeof generateHandlers>;
