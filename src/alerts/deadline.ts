/**
 * Overall deadlines for outbound deliveries. A library's own timeouts are
 * idle timeouts (nodemailer resets its socket timeout on every byte, so a
 * server that drips one EHLO continuation line every few seconds never trips
 * it); ours is one timer per attempt, started before the first byte, that
 * aborts the work (the transport closes its socket on the signal) and settles
 * the attempt at once even if the work ignores the signal.
 */

/** An attempt ran out of its overall time. */
export class DeadlineError extends Error {
  constructor(
    message: string,
    readonly deadlineMs: number,
  ) {
    super(message);
    this.name = 'DeadlineError';
  }
}

/**
 * An attempt cut off for a reason that is not the receiver's: nothing is
 * recorded, so the message stays due as it was and is resent (same key)
 * later, as after a crash.
 */
export class DeliveryAbandonedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeliveryAbandonedError';
  }
}

/** The run lost its ledger lease to another process: another holder may be sending the same message. */
export class LeaseLostError extends DeliveryAbandonedError {
  constructor() {
    super('the expiry alert lease was lost to another process');
    this.name = 'LeaseLostError';
  }
}

/** keysmith is shutting down: the attempt in flight is cut off rather than holding the shutdown up. */
export class ShutdownError extends DeliveryAbandonedError {
  constructor() {
    super('keysmith is shutting down');
    this.name = 'ShutdownError';
  }
}

/** The run as a whole ran out of its time; the attempt cut off counts as failed. */
export class RunDeadlineError extends DeadlineError {
  constructor(deadlineMs: number) {
    super(`the alert run's deadline of ${deadlineMs} ms passed`, deadlineMs);
    this.name = 'RunDeadlineError';
  }
}

function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}

/**
 * Runs `work` with a signal that aborts after `deadlineMs` (with a
 * DeadlineError carrying `timeoutMessage`) or when `outer` aborts (with its
 * reason). Rejects with that reason as soon as the signal fires, whether or
 * not `work` has let go yet; the timer and listeners are gone when it settles.
 */
export async function withDeadline<T>(
  deadlineMs: number,
  timeoutMessage: string,
  work: (signal: AbortSignal) => Promise<T>,
  outer?: AbortSignal,
): Promise<T> {
  const controller = new AbortController();
  const signal = controller.signal;
  const onOuterAbort = (): void => controller.abort(outer?.reason);
  if (outer?.aborted === true) throw asError(outer.reason);
  outer?.addEventListener('abort', onOuterAbort, { once: true });
  const timer = setTimeout(() => controller.abort(new DeadlineError(timeoutMessage, deadlineMs)), deadlineMs);
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = (): void => reject(asError(signal.reason));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    const running = work(signal);
    // The work may still settle after the deadline; its late outcome is nobody's concern.
    running.catch(() => undefined);
    return await Promise.race([running, aborted]);
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener('abort', onOuterAbort);
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
  }
}
