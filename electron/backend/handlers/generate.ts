// 'generate/*': text generation in the engine's 'infer' process (the playground). The answer streams as
// 'generate/token' pushes {requestId, text} while the reply waits for the whole text.
// A request is one prompt or a conversation (messages, through the model's chat template), on the
// base model, one adapter, or several adapters composed with a strength (0–2×) and a switch each.
// An answer ends when its requester's connection closes: only that window knows its request id, and
// its request failed there already, so decoding on would hold the 'infer' process for nobody.

import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { ConfigError, ValidationError } from '../../../native-runtime/errors.ts';
import { defaultChat, noChatTemplateError } from '../../../native-runtime/evaluation/prompt-reader.ts';
import type { TextFinishReason } from '../../../native-runtime/evaluation/runner.ts';
import { SAMPLING_FIELDS, STOP_STRINGS } from '../../../native-runtime/generation/sampling-limits.ts';
import type { DeviceUsed } from '../../../native-runtime/runtime/device-choice.ts';
import type { BackendContext } from '../context.ts';
import type { Notice } from '../jobs/engine-tasks.ts';
import { getAdapter, namingChatTrainedAdapterIn } from '../library/adapters.ts';
import { preferredDevice } from '../library/environment.ts';
import { getModel } from '../library/models.ts';
import { recordGeneration } from '../library/runs.ts';
import { CancellableRequests } from '../rpc/cancellable-requests.ts';
import { type ClientApi, defineHandlers, handler } from '../rpc/define-handlers.ts';

export interface GenerateReply {
  requestId: string;
  text: string;
  /** Number of tokens generated. */
  tokens: number;
  /** 'context': the model's context filled up before maxNewTokens. */
  finishReason: TextFinishReason;
  promptTokens: number;
  ms: number;
  /**
   * Milliseconds from the first generated token to the last: the decoding speed without loading the
   * model and reading the prompt (tokens/s = (tokens − 1) / decodeMs · 1000). Null below 2 tokens.
   */
  decodeMs: number | null;
  /** Why tokens were generated but no text (ids past the tokenizer, special tokens); else null. */
  emptyNote: string | null;
  /**
   * Where the answer was written: the provider, and why not the device Settings chose. Every reply
   * says it (the 'generate/notice' of a fallback comes only with the request that loaded the model).
   */
  device: DeviceUsed;
}

const generations = new CancellableRequests('generating');

const Message = z
  .object({ role: z.enum(['system', 'user', 'assistant']), content: z.string().max(200_000) })
  .strict();

const GenerateParams = z
  .object({
    modelId: z.number().int().positive(),
    adapterId: z.number().int().positive().nullable().optional(),
    /** Composition: each adapter with its strength α (0 = off in effect, 1 = as trained) and switch. */
    adapters: z
      .array(
        z
          .object({
            id: z.number().int().positive(),
            scale: z.number().min(0).max(2).optional(),
            enabled: z.boolean().optional(),
          })
          .strict(),
      )
      .max(8)
      .optional(),
    prompt: z.string().min(1).max(200_000).optional(),
    /** A conversation instead of `prompt`: it ends with the user's turn; the answer is the assistant's. */
    messages: z.array(Message).min(1).max(200).optional(),
    maxNewTokens: SAMPLING_FIELDS.maxNewTokens.optional(),
    temperature: SAMPLING_FIELDS.temperature.optional(),
    topP: SAMPLING_FIELDS.topP.optional(),
    topK: SAMPLING_FIELDS.topK.optional(),
    repetitionPenalty: SAMPLING_FIELDS.repetitionPenalty.optional(),
    seed: SAMPLING_FIELDS.seed.optional(),
    /** Texts that end the answer, which is cut before the first of them (generate's --stop). */
    stop: STOP_STRINGS.optional(),
    chat: z.boolean().optional(),
    requestId: z.string().min(1).max(100).optional(),
  })
  .strict();

async function generate(p: z.output<typeof GenerateParams>, ctx: BackendContext): Promise<GenerateReply> {
  if ((p.prompt === undefined) === (p.messages === undefined))
    throw new ValidationError('invalid-params', 'give either a prompt or messages');
  if (p.messages && p.messages.at(-1)?.role !== 'user')
    throw new ValidationError('invalid-params', "a conversation ends with the user's message");
  if (p.adapters?.length && p.adapterId)
    throw new ValidationError('invalid-params', 'give either adapterId or adapters');
  const model = getModel(ctx.lib, p.modelId);
  const fits = <A extends { id: number; name: string; baseModelFingerprint: string }>(a: A): A => {
    if (a.baseModelFingerprint !== model.fingerprint)
      throw new ValidationError(
        'adapter-mismatch',
        `adapter ${a.id} ("${a.name}") was trained on another base model than "${model.name}"`,
      );
    return a;
  };
  const adapter = p.adapterId ? fits(getAdapter(ctx.lib, p.adapterId)) : null;
  if (new Set(p.adapters?.map((a) => a.id)).size !== (p.adapters?.length ?? 0))
    throw new ValidationError('invalid-params', 'an adapter is listed twice');
  const listed = (p.adapters ?? []).map((x) => ({ ...x, record: fits(getAdapter(ctx.lib, x.id)) }));
  const composed = listed.map(({ record: a, scale, enabled }) => ({
    dir: a.path,
    name: `#${a.id}`,
    scale: scale ?? 1,
    enabled: enabled ?? true,
  }));
  // Unsaid, as `generate` without --chat: the adapters' training format, else plain.
  const chat = p.chat ?? defaultChat(adapter !== null || composed.length > 0);
  const maxNewTokens = p.maxNewTokens ?? 128;
  const requestId = p.requestId ?? randomUUID();
  return generations.run(requestId, ctx.client, async (signal) => {
    const t0 = performance.now();
    const {
      texts: [out],
      device,
    } = await ctx.engine
      .call(
        'generate',
        {
          model: model.path,
          adapter: adapter?.path ?? null,
          ...(composed.length ? { adapters: composed } : {}),
          prompts: [p.messages ? { messages: p.messages } : (p.prompt as string)],
          maxNewTokens,
          temperature: p.temperature,
          topP: p.topP,
          topK: p.topK,
          repetitionPenalty: p.repetitionPenalty,
          seed: p.seed,
          stop: p.stop,
          chat,
          device: preferredDevice(ctx.lib),
          quantize: model.quantize,
          dataDir: ctx.lib.dataDir,
        },
        {
          signal,
          onEvent: (e, d) =>
            e === 'notice'
              ? ctx.events.emit('generate/notice', { requestId, text: d.text, level: (d as Notice).level })
              : ctx.events.emit('generate/token', { requestId, text: d.text }),
        },
      )
      .catch((e) => {
        const code = (e as { code?: string }).code;
        // A conversation the model cannot read: what the Playground offers instead.
        if (p.messages && code === 'missing-chat-template')
          throw noChatTemplateError('tick “Plain prompt” under Sampling to send only your last message');
        // The engine names the adapter by its folder; the library's id and name are the user's.
        if (code === 'adapter-needs-chat-template')
          throw namingChatTrainedAdapterIn(
            e,
            adapter ? [adapter] : listed.map((x) => x.record),
            'send the prompt with chat: false (“Plain prompt” in the Playground), which it was not trained on, or use it on a model with the chat template it was trained with',
          );
        // The earlier turns are sent again with each message: a short one fails once they fill the
        // context, and every next one would too.
        if (p.messages?.some((m) => m.role === 'assistant') && code === 'prompt-too-long')
          throw new ConfigError(
            code,
            `${(e as Error).message} (the conversation so far counts: start a New chat to go on)`,
          );
        throw e;
      });
    // What the answer was made with, defaults resolved, so that it can be shown and asked again.
    // A composition of one adapter (the Playground's way) is that adapter, unless it was off (or at
    // strength 0): the answer is then the base model's; of several, none alone.
    const lone = composed.length === 1 && composed[0].enabled && composed[0].scale > 0 ? listed[0] : null;
    recordGeneration(ctx.lib, {
      modelId: model.id,
      adapterId: adapter?.id ?? lone?.id ?? null,
      kind: 'playground',
      prompt: p.prompt ?? JSON.stringify(p.messages),
      output: out.text,
      params: {
        ...(listed.length
          ? {
              adapters: listed.map((x, i) => ({
                id: x.id,
                scale: composed[i].scale,
                enabled: composed[i].enabled,
              })),
            }
          : {}),
        maxNewTokens,
        temperature: p.temperature,
        topP: p.topP,
        topK: p.topK,
        repetitionPenalty: p.repetitionPenalty,
        seed: p.seed,
        stop: p.stop,
        // The prompt column holds either the text or the conversation's messages as JSON.
        ...(p.messages ? { conversation: true } : { chat }),
        device: device.device,
        deviceFallback: device.fallback,
      },
    });
    return {
      requestId,
      text: out.text,
      tokens: out.tokens,
      finishReason: out.finishReason,
      promptTokens: out.promptTokens,
      ms: performance.now() - t0,
      decodeMs: out.decodeMs,
      emptyNote: out.emptyNote,
      device,
    };
  });
}

export const generateHandlers = defineHandlers({
  'generate/run': handler(GenerateParams, generate),
  /** Stops a generation started with that requestId; its generate/run answers with a 'cancelled' error. */
  'generate/cancel': handler(
    z.object({ requestId: z.string().min(1).max(100) }).strict(),
    (p): { cancelled: boolean } => ({ cancelled: generations.cancel(p.requestId) }),
  ),
});

export type GenerateHandlers = ClientApi<typeof generateHandlers>;
