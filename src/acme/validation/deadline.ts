/**
 * The time budget of one validation. Every step listens to `signal` and
 * gives up its socket or DNS query when it fires; `expired` settles then,
 * so the validator can also race the whole attempt against it.
 */
/** The abort reason once an attempt is over: one object, so ending a validation captures no stack. */
const FINISHED = Object.freeze(new Error('validation finished'));

export class Deadline {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly endsAt: number;
  readonly expired: Promise<void>;

  constructor(readonly timeoutMs: number) {
    this.endsAt = performance.now() + timeoutMs;
    this.expired = new Promise((resolve) => this.controller.signal.addEventListener('abort', () => resolve(), { once: true }));
    this.timer = setTimeout(() => this.controller.abort(new Error(`validation timed out after ${timeoutMs} ms`)), timeoutMs);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get isExpired(): boolean {
    return this.controller.signal.aborted;
  }

  /** Milliseconds left, at least 1 so it can be handed to APIs that refuse 0. */
  remainingMs(): number {
    return Math.max(1, Math.ceil(this.endsAt - performance.now()));
  }

  /** Ends the budget early (the attempt finished): clears the timer and aborts leftovers. */
  dispose(): void {
    clearTimeout(this.timer);
    if (!this.controller.signal.aborted) this.controller.abort(FINISHED);
  }
}
