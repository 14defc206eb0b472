// The Playground's state: the model, system prompt, adapter dials, sampling controls and the
// conversation. A module singleton, so leaving the page and coming back keeps everything (a reply
// still streaming keeps streaming); the settings are also kept in sessionStorage across a reload.
//
// A conversation is a list of turns: the user's message and one reply per side. With "side by side"
// the base model and the adapted model each answer the same message with the same seed, and each
// side's history holds its own earlier answers, so the two conversations stay comparable.

import { samplingProblems, stopProblems } from '../../../../native-runtime/generation/sampling-limits.ts';
import { parseStopLines } from '../../../../native-runtime/generation/stop-strings.ts';
import type { DeviceUsed } from '../../../../native-runtime/runtime/device-choice.ts';
import { errorMessage, newRequestId, type RpcClient, RpcError } from '../rpc/client.ts';
import { readKept, writeKept } from './session-kept.ts';
import type { ExampleMessage } from './training-example.ts';

export type Side = 'base' | 'adapted';

export interface Reply {
  requestId: string;
  /** Its request was sent: side by side, the second side waits for the first to finish. */
  asked: boolean;
  text: string;
  done: boolean;
  finishReason: string | null;
  tokens: number | null;
  ms: number | null;
  /** Time from the first generated token to the last (decoding only). */
  decodeMs: number | null;
  error: string | null;
  /** Why a finished reply of several tokens has no text (ids past the tokenizer, special tokens). */
  emptyNote: string | null;
  /** What loading the model said last, shown until text arrives (a conversion's progress, …). */
  notice: string | null;
  /** Where the answer was written, and why not on the device Settings chose (a fallback). */
  device: DeviceUsed | null;
}

export interface Turn {
  id: number;
  user: string;
  seed: number;
  /** The model that answered it (the Model field may change mid-chat). */
  modelId: number;
  /** The system prompt and prompt format it was asked with (what "save as example" stores). */
  system: string;
  plain: boolean;
  replies: Partial<Record<Side, Reply>>;
}

/** One message's request settings, the same for every side that answers it. */
interface Asked {
  modelId: number;
  plain: boolean;
  seed: number;
  sampling: {
    maxNewTokens: number;
    temperature: number;
    topP: number;
    topK?: number;
    repetitionPenalty: number;
    stop?: string[];
  };
}

export interface Dial {
  on: boolean;
  /** α: 0 = no effect, 1 = as trained, up to 2. */
  scale: number;
}

const storageKey = 'reft-studio.playground';

/** The fields kept across a reload. */
const KEPT = [
  'modelId',
  'system',
  'dials',
  'compare',
  'plain',
  'temperature',
  'topP',
  'topK',
  'repetitionPenalty',
  'seed',
  'maxNewTokens',
  'stopText',
  'draft',
] as const;

export class PlaygroundState {
  modelId = $state<number | null>(null);
  system = $state('');
  /** Per adapter id; an adapter without an entry is off at strength 1. */
  dials = $state<Record<number, Dial>>({});
  compare = $state(true);
  /** Send only the last message as a plain prompt (for models without a chat template). */
  plain = $state(false);
  temperature = $state(0.7);
  topP = $state(1);
  topK = $state(0);
  repetitionPenalty = $state(1);
  /**
   * The labels of sampling fields whose text is not a number ("--3", "1e"): such a field binds null,
   * which would pass as blank (a random seed, top-k off). Not kept: the page starts without them.
   */
  unreadable = $state<string[]>([]);
  /** A fixed seed; null draws a new one per message (the same for both sides). */
  seed = $state<number | null>(null);
  maxNewTokens = $state(128);
  /** Texts that end an answer, one a line ("\n" for a line break): parseStopLines. */
  stopText = $state('');
  draft = $state('');
  turns = $state<Turn[]>([]);
  error = $state<string | null>(null);
  /** The turn whose message is being edited in the composer: sending replaces it and drops later turns. */
  editing = $state<number | null>(null);
  #rpc: RpcClient | null = null;
  #nextTurn = 1;
  /** The draft the composer held before an edit began, given back when the edit is cancelled. */
  #draftBeforeEdit = '';

  constructor() {
    const saved = readKept(storageKey);
    if (saved) for (const k of KEPT) if (k in saved) (this as Record<string, unknown>)[k] = saved[k];
  }

  /** Connects to the backend once: streamed text reaches the replies even while the page is closed. */
  attach(rpc: RpcClient): void {
    if (this.#rpc) return;
    this.#rpc = rpc;
    rpc.subscribe('generate/token', (t) => {
      const r = this.#waiting(t.requestId);
      if (r) r.text += t.text;
    });
    rpc.subscribe('generate/notice', (n) => {
      const r = this.#waiting(n.requestId);
      if (r) r.notice = n.text;
    });
  }

  /** The reply still waiting on request `requestId`, if any (request ids are unique per reply). */
  #waiting(requestId: string): Reply | undefined {
    for (const turn of this.turns)
      for (const r of Object.values(turn.replies)) if (r && r.requestId === requestId && !r.done) return r;
    return undefined;
  }

  /** Saves the settings for a reload (call from an effect that reads them). */
  persist(): void {
    const out: Record<string, unknown> = {};
    for (const k of KEPT) out[k] = $state.snapshot(this[k]);
    writeKept(storageKey, out);
  }

  /**
   * What is wrong with the sampling controls, one line each, within the limits `generate/run` takes
   * (a cleared number field binds null; blank top-k and seed mean off and random): sending is refused
   * until the list is empty.
   */
  get problems(): string[] {
    const { temperature, topP, topK, repetitionPenalty, seed, maxNewTokens } = this;
    return [
      ...this.unreadable.map((label) => `${label}: not a number.`),
      ...samplingProblems({ temperature, topP, topK, repetitionPenalty, seed, maxNewTokens }, [
        'topK',
        'seed',
      ]),
      ...stopProblems(this.stops),
    ];
  }

  /** The stop texts the field holds. */
  get stops(): string[] {
    return parseStopLines(this.stopText);
  }

  get generating(): boolean {
    return this.turns.some((t) => Object.values(t.replies).some((r) => r && !r.done));
  }

  dial(id: number): Dial {
    return this.dials[id] ?? { on: false, scale: 1 };
  }

  setDial(id: number, d: Partial<Dial>): void {
    this.dials = { ...this.dials, [id]: { ...this.dial(id), ...d } };
  }

  /** Drops the dial of an adapter that left the library. */
  forget(id: number): void {
    const { [id]: _gone, ...rest } = this.dials;
    this.dials = rest;
  }

  /** The adapters switched on, among `ids` (those that fit the chosen model). */
  activeAdapters(ids: readonly number[]): Array<{ id: number; scale: number; enabled: boolean }> {
    return ids
      .filter((id) => this.dial(id).on)
      .map((id) => ({ id, scale: this.dial(id).scale, enabled: true }));
  }

  clear(): void {
    if (this.generating) return;
    this.turns = [];
    this.editing = null;
  }

  /** Whether sending is possible now (a model, no answer being written, sampling values that pass). */
  get canAsk(): boolean {
    return this.#rpc !== null && this.modelId !== null && !this.generating && this.problems.length === 0;
  }

  /** Puts turn `id`'s message in the composer: sending it then asks again from there. */
  startEdit(id: number): void {
    const turn = this.turns.find((t) => t.id === id);
    if (!turn || this.generating) return;
    if (this.editing === null) this.#draftBeforeEdit = this.draft;
    this.editing = id;
    this.draft = turn.user;
  }

  cancelEdit(): void {
    if (this.editing === null) return;
    this.editing = null;
    this.draft = this.#draftBeforeEdit;
  }

  /** How many turns after the one being edited a resend drops (0 when none is edited). */
  get droppedByEdit(): number {
    const at = this.turns.findIndex((t) => t.id === this.editing);
    return at < 0 ? 0 : this.turns.length - at - 1;
  }

  /**
   * Sends the draft as the next user message; while a message is edited, in its place, the turns
   * after it dropped. `fitting` are the adapters that fit the model; the adapted side uses those
   * switched on. Sides answer one after the other (the engine generates one request at a time anyway).
   */
  async send(fitting: readonly number[]): Promise<void> {
    // A plain prompt is sent as typed, as `generate --prompt` sends it: its spaces and line breaks
    // are tokens (a completion's indentation, the newline after "Answer:"). A chat message is trimmed.
    const text = this.plain ? this.draft : this.draft.trim();
    if (!this.canAsk || !text.trim()) return;
    const at = this.turns.findIndex((t) => t.id === this.editing);
    if (at >= 0) this.turns = this.turns.slice(0, at);
    this.editing = null;
    this.draft = '';
    await this.#ask(text, fitting);
  }

  /**
   * Asks the last message again with the settings shown now, in place of its answers: with a new
   * seed, unless Seed is fixed (then the same answer, unless a setting changed).
   */
  async regenerate(fitting: readonly number[]): Promise<void> {
    const last = this.turns.at(-1);
    if (!last || !this.canAsk || this.editing !== null) return;
    this.turns = this.turns.slice(0, -1);
    await this.#ask(last.user, fitting);
  }

  async #ask(text: string, fitting: readonly number[]): Promise<void> {
    const rpc = this.#rpc;
    if (!rpc || this.modelId === null) return;
    this.error = null;
    const adapters = this.activeAdapters(fitting);
    const sides: Side[] = adapters.length === 0 ? ['base'] : this.compare ? ['base', 'adapted'] : ['adapted'];
    const seed = this.seed ?? Math.floor(Math.random() * 2 ** 31);
    const system = this.system.trim();
    const turn: Turn = {
      id: this.#nextTurn++,
      user: text,
      seed,
      modelId: this.modelId,
      system,
      plain: this.plain,
      replies: {},
    };
    for (const s of sides) turn.replies[s] = blankReply();
    this.turns = [...this.turns, turn];
    const live = this.turns.at(-1) as Turn; // the proxied turn, so streamed text updates the page
    // What both sides are asked with, read now: the second side answers only after the first, and a
    // field changed meanwhile must not make the comparison one of different settings.
    const asked: Asked = {
      modelId: this.modelId,
      plain: this.plain,
      seed,
      sampling: {
        maxNewTokens: this.maxNewTokens,
        temperature: this.temperature,
        topP: this.topP,
        ...(this.topK > 0 ? { topK: this.topK } : {}),
        repetitionPenalty: this.repetitionPenalty,
        ...(this.stops.length > 0 ? { stop: this.stops } : {}),
      },
    };
    for (const side of sides) {
      const reply = live.replies[side];
      if (!reply || reply.done) continue;
      await this.#answer(rpc, side, live, reply, asked, side === 'adapted' ? adapters : []);
    }
  }

  /**
   * The messages turn `turn` was asked with on `side`: its system prompt, that side's earlier turns
   * answered, then its message; with a plain prompt, the message alone (all that is sent). A reply
   * stopped before it said anything (while it waited for an evaluation of the model, or loaded it)
   * is left out, as a side never asked: an empty assistant turn would change the next answer.
   */
  promptOf(turn: Turn, side: Side): ExampleMessage[] {
    if (turn.plain) return [{ role: 'user', content: turn.user }];
    const history = this.turns.slice(0, this.turns.indexOf(turn));
    return [
      ...(turn.system ? [{ role: 'system' as const, content: turn.system }] : []),
      ...history.flatMap((t) => {
        const a = t.replies[side];
        return a?.done && !a.error && !(a.finishReason === 'stopped' && a.text === '')
          ? [
              { role: 'user' as const, content: t.user },
              { role: 'assistant' as const, content: a.text },
            ]
          : [];
      }),
      { role: 'user' as const, content: turn.user },
    ];
  }

  async #answer(
    rpc: RpcClient,
    side: Side,
    turn: Turn,
    reply: Reply,
    asked: Asked,
    adapters: Array<{ id: number; scale: number; enabled: boolean }>,
  ): Promise<void> {
    reply.asked = true;
    try {
      const res = await rpc.callWith(
        'generate/run',
        {
          modelId: asked.modelId,
          ...(asked.plain ? { prompt: turn.user, chat: false } : { messages: this.promptOf(turn, side) }),
          ...(adapters.length ? { adapters } : {}),
          ...asked.sampling,
          seed: asked.seed,
          requestId: reply.requestId,
        },
        // No deadline: the answer streams, Stop ends it, and a long one from a large model on a
        // CPU takes more than any fixed time (which left it decoding on behind an error).
        { timeoutMs: null },
      );
      reply.text = res.text; // the reply is authoritative (pushes may have been missed)
      reply.finishReason = res.finishReason;
      reply.tokens = res.tokens;
      reply.ms = res.ms;
      reply.decodeMs = res.decodeMs;
      reply.emptyNote = res.emptyNote;
      reply.device = res.device;
    } catch (err) {
      // Stop's own cancellation is how a stopped reply ends, not a failure: it keeps its text.
      const stopped = reply.finishReason === 'stopped' && err instanceof RpcError && err.code === 'cancelled';
      if (!stopped) reply.error = errorMessage(err);
    } finally {
      reply.done = true;
    }
  }

  async stop(): Promise<void> {
    const rpc = this.#rpc;
    if (!rpc) return;
    // Every reply is settled before the first cancel is awaited: meanwhile the stopped side's
    // request ends, and the next side would otherwise be asked.
    const cancelled: string[] = [];
    for (const t of this.turns)
      for (const [side, r] of Object.entries(t.replies) as [Side, Reply | undefined][]) {
        if (!r || r.done) continue;
        // A side whose turn never came was not asked: no 'stopped' answer, nothing in its history.
        if (!r.asked) {
          delete t.replies[side];
          continue;
        }
        r.done = true;
        r.finishReason = 'stopped';
        cancelled.push(r.requestId);
      }
    for (const requestId of cancelled)
      try {
        await rpc.call('generate/cancel', { requestId });
      } catch (err) {
        this.error = errorMessage(err);
      }
  }
}

function blankReply(): Reply {
  return {
    requestId: newRequestId('pg'),
    asked: false,
    text: '',
    done: false,
    finishReason: null,
    tokens: null,
    ms: null,
    decodeMs: null,
    notice: null,
    device: null,
    error: null,
    emptyNote: null,
  };
}

/**
 * What to say when the switched-on adapters were trained on prompts formatted otherwise than the
 * Playground will send them (the chat template, or the plain text with "Plain prompt"): they answer
 * differently then, and unlike `generate`, which formats as the adapter was trained, the Playground
 * sends what its switch says. Null when they agree. `promptTemplate` is the adapter's manifest's:
 * 'chat' when trained through the chat template, anything else plain.
 */
export function promptFormatNote(
  active: ReadonlyArray<{ name: string; promptTemplate: unknown }>,
  plain: boolean,
): string | null {
  const other = active.filter((a) => (a.promptTemplate === 'chat') === plain);
  if (other.length === 0) return null;
  const names = other.map((a) => `“${a.name}”`).join(' and ');
  return plain
    ? `${names} ${other.length === 1 ? 'was' : 'were'} trained through the chat template: untick “Plain prompt” to ask as in training.`
    : `${names} ${other.length === 1 ? 'was' : 'were'} trained on plain prompts, without the chat template: tick “Plain prompt” to ask as in training.`;
}

/** Decoding speed of a finished reply (without loading the model or reading the prompt), or null. */
export function tokensPerSecond(r: Reply): number | null {
  return r.tokens && r.tokens > 1 && r.decodeMs ? (r.tokens - 1) / (r.decodeMs / 1000) : null;
}

export const playground = new PlaygroundState();
