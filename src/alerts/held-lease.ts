/**
 * The ledger lease while a run holds it. Each acquisition has its own token
 * (the lease row's holder): renewal and release compare it, so a process
 * whose lease ran out and was taken can neither extend nor drop the new
 * holder's (fencing). A heartbeat renews at a fraction of the lifetime, so a
 * run that outlasts one lifetime keeps the lease; when a renewal fails the
 * signal aborts with LeaseLostError and the run stops its work at once.
 */
import type { Clock } from '../shared/clock.js';
import { LeaseLostError } from './deadline.js';
import type { AlertLogger, LeaseStore } from './ports.js';

export interface LeaseRequest {
  readonly store: LeaseStore;
  readonly name: string;
  /** Unique per acquisition. */
  readonly token: string;
  readonly clock: Clock;
  readonly ttlMs: number;
  readonly heartbeatMs: number;
  readonly logger: AlertLogger;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class HeldLease {
  private readonly controller = new AbortController();
  private readonly heartbeat: NodeJS.Timeout;
  /** When the lease runs out unless renewed: past it, a failing store means the lease may be someone else's. */
  private expiresAt: number;
  private isReleased = false;
  /** The renewal in flight: a heartbeat and a caller's renew() share it instead of racing each other to the store. */
  private renewing: Promise<boolean> | undefined;

  private constructor(
    private readonly request: LeaseRequest,
    acquiredAt: number,
  ) {
    this.expiresAt = acquiredAt + request.ttlMs;
    this.heartbeat = setInterval(() => void this.renew(), request.heartbeatMs);
    // The work in flight keeps the process alive; the heartbeat alone must not.
    this.heartbeat.unref();
  }

  /** The lease, or null when another holder has a live one. */
  static async acquire(request: LeaseRequest): Promise<HeldLease | null> {
    const now = request.clock.now();
    return (await request.store.acquire(request.name, request.token, now, request.ttlMs)) ? new HeldLease(request, now) : null;
  }

  /** Aborts (reason LeaseLostError) once a renewal finds the lease gone. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get isHeld(): boolean {
    return !this.isReleased && !this.controller.signal.aborted;
  }

  /** Extends the lease now; false (and the signal aborted) when it is no longer ours. */
  renew(): Promise<boolean> {
    if (!this.isHeld) return Promise.resolve(false);
    this.renewing ??= this.renewOnce().finally(() => {
      this.renewing = undefined;
    });
    return this.renewing;
  }

  /** Stops the heartbeat and gives the lease up (only if it is still ours). */
  async release(): Promise<void> {
    if (this.isReleased) return;
    this.isReleased = true;
    clearInterval(this.heartbeat);
    const { store, name, token, logger } = this.request;
    try {
      await store.release(name, token);
    } catch (error) {
      // The lease then simply expires; nothing else depends on this.
      logger.warn({ error: describe(error) }, 'could not release the expiry alert lease');
    }
  }

  private async renewOnce(): Promise<boolean> {
    const { store, name, token, clock, ttlMs, logger } = this.request;
    const now = clock.now();
    try {
      if (await store.renew(name, token, now, ttlMs)) {
        this.expiresAt = now + ttlMs;
        return this.isHeld;
      }
      // Released meanwhile: the row is gone because we gave it up, not because someone took it.
      if (this.isReleased) return false;
      logger.warn({ lease: name }, 'expiry alert lease lost to another process; the run stops here');
    } catch (error) {
      if (this.isReleased) return false;
      // A busy or unreachable ledger is no proof the lease is gone: keep working while it cannot have run out
      // (judged when the failure arrives: a statement timeout may have taken seconds).
      if (clock.now() < this.expiresAt) {
        logger.warn({ lease: name, error: describe(error) }, 'could not renew the expiry alert lease; trying again at the next heartbeat');
        return true;
      }
      logger.warn({ lease: name, error: describe(error) }, 'could not renew the expiry alert lease before it ran out; the run stops here');
    }
    this.lose();
    return false;
  }

  private lose(): void {
    clearInterval(this.heartbeat);
    this.controller.abort(new LeaseLostError());
  }
}
