import type { Awaitable } from './awaitable.js';

/**
 * Control flow over Awaitable values for the few hot paths that were
 * synchronous on SQLite (the OCSP cache hit's status check, the per-request
 * client-certificate check, group commit): `await` on a plain value still
 * costs a trip through the microtask queue, so these continue at once when
 * the ledger answered at once and wait only for a real promise (PostgreSQL).
 * Everywhere else, plain `await` is the rule.
 */

export function isPromise<T>(value: Awaitable<T>): value is Promise<T> {
  return value instanceof Promise;
}

/** `next(value)`, now when `value` is plain, after it settles when it is a promise. */
export function mapAwaitable<T, U>(value: Awaitable<T>, next: (value: T) => Awaitable<U>): Awaitable<U> {
  return isPromise(value) ? value.then(next) : next(value);
}

/**
 * `run()`, with `onError` answering both ways it can fail: a synchronous
 * throw and a rejected promise. Plain in, plain out.
 */
export function recoverAwaitable<T>(run: () => Awaitable<T>, onError: (error: unknown) => Awaitable<T>): Awaitable<T> {
  let result: Awaitable<T>;
  try {
    result = run();
  } catch (error) {
    return onError(error);
  }
  return isPromise(result) ? result.catch(onError) : result;
}

/** Every value, as one plain array when none is a promise, else a promise of it (Promise.all). */
export function allAwaitable<T>(values: readonly Awaitable<T>[]): Awaitable<T[]> {
  const plain: T[] = [];
  for (const value of values) {
    if (isPromise(value)) return Promise.all(values);
    plain.push(value);
  }
  return plain;
}
