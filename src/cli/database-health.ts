import type { DatabaseHealthSource, DatabaseStatus, HealthCheck } from '../http/index.js';
import type { OpenedLedger } from '../ledger/index.js';
import { systemClock, type Clock } from '../shared/clock.js';

/** How long /healthz waits for the database before calling it unreachable: a balancer's check times out in a few seconds. */
export const DATABASE_PING_TIMEOUT_MS = 2_000;
/** One ping answers every /healthz within this window, so a flood of health checks never becomes database load. */
export const DATABASE_STATUS_TTL_MS = 1_000;

/**
 * The ledger database as /healthz sees it: one ping at most per
 * DATABASE_STATUS_TTL_MS (concurrent askers share it), bounded by
 * DATABASE_PING_TIMEOUT_MS, never throwing.
 */
export function databaseHealth(
  opened: OpenedLedger,
  options: { readonly clock?: Clock; readonly timeoutMs?: number; readonly ttlMs?: number } = {},
): DatabaseHealthSource {
  const clock = options.clock ?? systemClock;
  const timeoutMs = options.timeoutMs ?? DATABASE_PING_TIMEOUT_MS;
  const ttlMs = options.ttlMs ?? DATABASE_STATUS_TTL_MS;
  let last: { readonly at: number; readonly status: Promise<DatabaseStatus> } | undefined;
  const probe = async (): Promise<DatabaseStatus> => ({
    backend: opened.kind,
    reachable: await pingWithin(() => opened.ledger.ping(), timeoutMs),
    schemaVersion: opened.ledger.schemaVersion,
  });
  return {
    status() {
      const now = clock.now();
      if (last === undefined || now - last.at >= ttlMs) last = { at: now, status: probe() };
      return last.status;
    },
  };
}

/**
 * The `ledger` health check over the same status. PostgreSQL unreachable
 * degrades a node (it comes back by itself; the node keeps serving OCSP from
 * its cache); the SQLite file unreadable fails it, as before (a restart is
 * the remedy there).
 */
export function ledgerHealthCheck(backend: OpenedLedger['kind'], database: DatabaseHealthSource): HealthCheck {
  return {
    name: 'ledger',
    whenFailing: backend === 'postgres' ? 'degraded' : 'fail',
    check: async () =>
      (await database.status()).reachable ? { ok: true } : { ok: false, detail: 'the ledger database cannot be reached' },
  };
}

async function pingWithin(ping: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([
      Promise.resolve()
        .then(ping)
        .catch(() => false),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
