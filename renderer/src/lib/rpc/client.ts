// The RPC client: numbered requests with per-call timeouts, replies matched by id, and push
// subscriptions by topic. Requests made while the transport is down wait in an outbox until it
// (re)opens or their timeout fires (the window says how many wait: onWaiting); requests in flight
// when the link drops fail at once, since their replies can no longer arrive.

import type { ErrorDetails } from '../../../../native-runtime/errors.ts';
import { parseServerMessage, type RequestMessage, type WireError } from './envelope.ts';
import type { Handlers, PushTopic, PushTopics } from './handlers.ts';
import type { Transport, TransportStatus } from './transport.ts';

export type Method = keyof Handlers;
export type ParamsOf<K extends Method> = Parameters<Handlers[K]>[0];
export type ResultOf<K extends Method> = Awaited<ReturnType<Handlers[K]>>;
/** Params may be left out where every field is optional (list methods take `{}`). */
type ParamsArgs<K extends Method> =
  Record<string, never> extends ParamsOf<K> ? [params?: ParamsOf<K>] : [params: ParamsOf<K>];

export class RpcError extends Error implements WireError {
  readonly type: string;
  readonly code: string;
  /** The option or field the error is about, when the backend names one. */
  readonly field?: string;
  /** What the error says as data (a refused file's columns), never to be read out of the message. */
  readonly details?: ErrorDetails;
  constructor(err: WireError) {
    super(err.message);
    this.name = 'RpcError';
    this.type = err.type;
    this.code = err.code;
    if (err.field) this.field = err.field;
    if (err.details) this.details = err.details;
  }
}

export interface CallOptions {
  /**
   * How long to wait for the answer; null: no deadline, for work whose length grows with the model
   * (a speed measurement, a long answer: many minutes at 8B on a CPU) that the window follows by
   * other means. Such a call still fails at once when the link drops.
   */
  timeoutMs?: number | null;
}

interface Pending {
  msg: RequestMessage;
  sent: boolean;
  resolve: (v: unknown) => void;
  reject: (e: RpcError) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

export class RpcClient {
  readonly transport: Transport;
  #nextId = 1;
  #pending = new Map<number, Pending>();
  #topics = new Map<string, Set<(data: unknown) => void>>();
  #waitingListeners = new Set<(n: number) => void>();
  #waiting = 0;
  #defaultTimeoutMs: number;

  constructor(transport: Transport, opts: { timeoutMs?: number } = {}) {
    this.transport = transport;
    this.#defaultTimeoutMs = opts.timeoutMs ?? 30_000;
    transport.onMessage((raw) => this.#receive(raw));
    transport.onStatus((s) => this.#statusChanged(s));
  }

  /** Typed call against the contract's method table. */
  call<K extends Method>(method: K, ...args: ParamsArgs<K>): Promise<ResultOf<K>> {
    return this.#request(method, args[0], {});
  }

  /** Like call() with options (e.g. a longer timeout). */
  callWith<K extends Method>(method: K, params: ParamsOf<K>, opts: CallOptions): Promise<ResultOf<K>> {
    return this.#request(method, params, opts);
  }

  /** Subscribes to a push topic; returns the unsubscribe function. */
  subscribe<T extends PushTopic>(topic: T, cb: (data: PushTopics[T]) => void): () => void {
    let set = this.#topics.get(topic);
    if (!set) {
      set = new Set();
      this.#topics.set(topic, set);
    }
    const listener = cb as (data: unknown) => void;
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }

  // The one place a reply's type is asserted: the backend validated the params against the same
  // contract and its handler returns ResultOf<K>.
  #request<K extends Method>(
    method: K,
    params: ParamsOf<K> | undefined,
    opts: CallOptions,
  ): Promise<ResultOf<K>> {
    const id = this.#nextId++;
    const msg: RequestMessage = { type: 'request', id, method, params: params ?? {} };
    const timeoutMs = opts.timeoutMs === undefined ? this.#defaultTimeoutMs : opts.timeoutMs;
    const down = this.#refusal();
    if (down) return Promise.reject(down);
    return new Promise<ResultOf<K>>((resolve, reject) => {
      const timer =
        timeoutMs === null
          ? undefined
          : setTimeout(() => {
              const sent = this.#pending.get(id)?.sent ?? true;
              this.#pending.delete(id);
              const s = Math.max(1, Math.round(timeoutMs / 1000));
              reject(
                new RpcError({
                  type: 'TimeoutError',
                  code: 'timeout',
                  message: sent
                    ? `The studio did not answer within ${s} s. Try again.`
                    : `Not done: the studio could not be reached for ${s} s. Try again once it is back.`,
                }),
              );
              if (!sent) this.#waitingChanged();
            }, timeoutMs);
      const p: Pending = { msg, sent: false, resolve: resolve as (v: unknown) => void, reject, timer };
      this.#pending.set(id, p);
      p.sent = this.transport.send(msg);
      if (!p.sent) this.#waitingChanged();
    });
  }

  get pendingCount(): number {
    return this.#pending.size;
  }

  /** Calls made while the link was down that wait to be sent. */
  get waitingCount(): number {
    return this.#waiting;
  }

  /** Calls `cb` with waitingCount whenever it changes; returns the unsubscribe function. */
  onWaiting(cb: (n: number) => void): () => void {
    this.#waitingListeners.add(cb);
    return () => {
      this.#waitingListeners.delete(cb);
    };
  }

  #waitingChanged(): void {
    let n = 0;
    for (const p of this.#pending.values()) if (!p.sent) n++;
    if (n === this.#waiting) return;
    this.#waiting = n;
    for (const cb of this.#waitingListeners) cb(n);
  }

  close(): void {
    this.transport.close();
  }

  #receive(raw: unknown): void {
    const msg = parseServerMessage(raw);
    if (!msg) return;
    if (msg.type === 'push') {
      for (const cb of this.#topics.get(msg.topic) ?? []) {
        try {
          cb(msg.data);
        } catch (err) {
          console.error(`[rpc] push handler for ${msg.topic} failed`, err);
        }
      }
      return;
    }
    if (msg.type === 'error' && msg.id === null) {
      console.warn('[rpc] error without request id', msg.error);
      return;
    }
    if (msg.id === null) return;
    const p = this.#pending.get(msg.id);
    if (!p) return; // timed out already
    this.#pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.type === 'reply') p.resolve(msg.result);
    else p.reject(new RpcError(msg.error));
  }

  #statusChanged(s: TransportStatus): void {
    if (s.state === 'open') {
      // Flush the outbox in id order.
      for (const p of this.#pending.values()) {
        if (!p.sent) p.sent = this.transport.send(p.msg);
      }
      this.#waitingChanged();
      return;
    }
    // Refused or closed for good: nothing queued will ever be sent.
    const down = this.#refusal();
    // Link down: whatever was on the wire will never be answered.
    for (const [id, p] of this.#pending) {
      if (!p.sent && !down) continue;
      this.#pending.delete(id);
      clearTimeout(p.timer);
      p.reject(
        down ??
          new RpcError({
            type: 'ConnectionError',
            code: 'disconnected',
            message: 'The connection to the studio was lost before it answered. Try again once it is back.',
          }),
      );
    }
    this.#waitingChanged();
  }

  /** The error for calls made while the backend refuses us or the client is closed; null otherwise. */
  #refusal(): RpcError | null {
    const { state } = this.transport.status;
    if (state !== 'unauthorized' && state !== 'closed') return null;
    return new RpcError({
      type: 'ConnectionError',
      code: state === 'unauthorized' ? 'unauthorized' : 'closed',
      message:
        state === 'unauthorized'
          ? 'Not connected: the backend refused the access token.'
          : 'Not connected to the backend.',
    });
  }
}

/** A readable message for anything thrown by a call. */
/** A fresh id for a call that a second call may cancel (generate/cancel, datasets/duplicates-cancel). */
export function newRequestId(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
