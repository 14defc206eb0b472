// Waiting on work that someone else started, with a way out: the waiter's cancel ends its wait at
// once, and leaves the work itself running for whoever else waits on it.

import { CancelledError } from '../../native-runtime/errors.ts';

/** `work`, or a 'cancelled' rejection saying `message` as soon as `signal` aborts. */
export function waitUnless<T>(
  work: Promise<T>,
  signal: AbortSignal | undefined,
  message: string,
): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) return Promise.reject(new CancelledError(message));
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(new CancelledError(message));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
