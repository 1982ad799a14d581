import { pruneSpentNonces, type NonceLedger } from '../acme/index.js';
import type { Clock } from '../shared/clock.js';

/** How often each node prunes spent ACME nonces; every node does, and on PostgreSQL they skip each other's rows. */
export const NONCE_PRUNE_INTERVAL_MS = 60_000;

export interface NoncePruning {
  /** Stops the timer and waits for a pass under way. */
  stop(): Promise<void>;
}

/**
 * Deletes expired spent nonces every minute, a bounded pass at a time
 * (pruneSpentNonces), never two passes at once. A failed pass (the database
 * is away) is reported and the next one tries again; nothing is lost by
 * waiting, the table only holds a few more rows.
 */
export function startNoncePruning(
  ledger: NonceLedger,
  clock: Clock,
  onError: (error: unknown) => void,
  everyMs = NONCE_PRUNE_INTERVAL_MS,
): NoncePruning {
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (running !== undefined) return;
    running = pruneSpentNonces(ledger, clock.now())
      .then(() => undefined, onError)
      .finally(() => {
        running = undefined;
      });
  }, everyMs);
  // Pruning never keeps the process alive on its own.
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
