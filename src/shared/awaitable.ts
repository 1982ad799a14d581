/**
 * A value or a promise of it. The ledger's ports return this: the embedded
 * SQLite backend answers synchronously, PostgreSQL asynchronously, and every
 * caller awaits, so a front end never knows which backend runs.
 */
export type Awaitable<T> = T | Promise<T>;

/** The same interface with every method's result made Awaitable: the shape both backends of a repository share. */
export type AwaitableMethods<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Awaitable<Awaited<R>> : T[K];
};
