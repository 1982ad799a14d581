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

  private constructor(private readonly request: LeaseRequest) {
    this.expiresAt = request.clock.now() + request.ttlMs;
    this.heartbeat = setInterval(() => this.renew(), request.heartbeatMs);
    // The work in flight keeps the process alive; the heartbeat alone must not.
    this.heartbeat.unref();
  }

  /** The lease, or null when another holder has a live one. */
  static acquire(request: LeaseRequest): HeldLease | null {
    return request.store.acquire(request.name, request.token, request.clock.now(), request.ttlMs) ? new HeldLease(request) : null;
  }

  /** Aborts (reason LeaseLostError) once a renewal finds the lease gone. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get isHeld(): boolean {
    return !this.isReleased && !this.controller.signal.aborted;
  }

  /** Extends the lease now; false (and the signal aborted) when it is no longer ours. */
  renew(): boolean {
    if (!this.isHeld) return false;
    const { store, name, token, clock, ttlMs, logger } = this.request;
    const now = clock.now();
    try {
      if (store.renew(name, token, now, ttlMs)) {
        this.expiresAt = now + ttlMs;
        return true;
      }
      logger.warn({ lease: name }, 'expiry alert lease lost to another process; the run stops here');
    } catch (error) {
      // A busy ledger is no proof the lease is gone: keep working while it cannot have run out.
      if (now < this.expiresAt) {
        logger.warn({ lease: name, error: describe(error) }, 'could not renew the expiry alert lease; trying again at the next heartbeat');
        return true;
      }
      logger.warn({ lease: name, error: describe(error) }, 'could not renew the expiry alert lease before it ran out; the run stops here');
    }
    this.lose();
    return false;
  }

  /** Stops the heartbeat and gives the lease up (only if it is still ours). */
  release(): void {
    if (this.isReleased) return;
    this.isReleased = true;
    clearInterval(this.heartbeat);
    const { store, name, token, logger } = this.request;
    try {
      store.release(name, token);
    } catch (error) {
      // The lease then simply expires; nothing else depends on this.
      logger.warn({ error: describe(error) }, 'could not release the expiry alert lease');
    }
  }

  private lose(): void {
    clearInterval(this.heartbeat);
    this.controller.abort(new LeaseLostError());
  }
}
