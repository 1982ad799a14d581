import type { Socket } from 'node:net';

type WriteCallback = (error?: Error | null) => void;

/**
 * Sealed records on their way to the transport: taken from the engine as
 * they are made, written in one (vectored, corked) transport write per turn
 * of the event loop, or at once when the caller needs them out (a handshake
 * flight, a close). A short connection's ticket, answer and close_notify
 * thus cost one write, not three. `bytes` counts what waits here, so the
 * socket's output bound still sees it.
 */
export class OutputBatch {
  private chunks: Buffer[] = [];
  private waiting = 0;
  /** Writers waiting for the next transport write to complete. */
  private waiters: WriteCallback[] = [];
  private timer: NodeJS.Immediate | undefined;

  constructor(private readonly transport: Socket) {}

  /** Bytes taken and not yet handed to the transport. */
  get bytes(): number {
    return this.waiting;
  }

  add(chunks: readonly Buffer[]): void {
    for (const chunk of chunks) {
      this.chunks.push(chunk);
      this.waiting += chunk.length;
    }
  }

  /** Calls back once the transport took the next write (or failed it). */
  onWritten(callback: WriteCallback): void {
    this.waiters.push(callback);
  }

  /** Writes at the end of this turn of the event loop, with whatever joined by then. */
  schedule(): void {
    if (this.timer !== undefined || this.chunks.length === 0) return;
    this.timer = setImmediate(() => {
      this.timer = undefined;
      this.flush();
    });
  }

  /** Writes everything taken so far now, in one transport write. */
  flush(): void {
    if (this.timer !== undefined) clearImmediate(this.timer);
    this.timer = undefined;
    const chunks = this.chunks;
    const waiters = this.waiters;
    if (chunks.length === 0 && waiters.length === 0) return;
    this.chunks = [];
    this.waiting = 0;
    this.waiters = [];
    if (this.transport.destroyed) {
      for (const waiter of waiters) waiter(new Error('socket destroyed'));
      return;
    }
    if (chunks.length === 0) {
      for (const waiter of waiters) waiter();
      return;
    }
    const done: WriteCallback | undefined =
      waiters.length === 0
        ? undefined
        : (err) => {
            for (const waiter of waiters) waiter(err);
          };
    this.write(chunks, done);
  }

  /** Forgets what waits (the transport is gone); writers still waiting get `error`. */
  drop(error: Error): void {
    if (this.timer !== undefined) clearImmediate(this.timer);
    this.timer = undefined;
    const waiters = this.waiters;
    this.chunks = [];
    this.waiting = 0;
    this.waiters = [];
    for (const waiter of waiters) waiter(error);
  }

  /** Several parts go out as one vectored write (cork/uncork), none copied. */
  private write(chunks: Buffer[], callback: WriteCallback | undefined): void {
    const transport = this.transport;
    const last = chunks.length - 1;
    if (last === 0) {
      transport.write(chunks[0] as Buffer, callback);
      return;
    }
    transport.cork();
    for (let i = 0; i < last; i++) transport.write(chunks[i] as Buffer);
    transport.write(chunks[last] as Buffer, callback);
    transport.uncork();
  }
}
