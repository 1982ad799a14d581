/**
 * The background half of challenges (RFC 8555 §7.5.1, §8): runs each validation through the
 * scheduler (global and per-account caps, fair bounded queues) and writes its outcome in one store
 * transaction. A file of its own so the handler context can hold a runner without importing the
 * challenge handlers (which import the context).
 */
import { performance } from 'node:perf_hooks';
import type { AcmeChallengeRecord, ValidationRecord } from '../domain/acme.js';
import type { AcmeServerDeps } from './ports.js';
import { ACME_ERROR_PREFIX } from './problems.js';
import { ValidationScheduler, type Admission, type SchedulerLimits, type SchedulerLoad } from './validation/scheduler.js';
import type { ChallengeAttempt } from './validation/types.js';

/** A valid authorization is reusable this long (RFC 8555 §7.1.4 leaves it to the server). */
export const VALID_AUTHORIZATION_LIFETIME_MS = 7 * 24 * 3_600_000;
/** Defaults of the scheduler (config: acmeMaxValidations, acmeMaxValidationsPerAccount, acmeMaxQueuedValidations, acmeMaxQueuedValidationsPerAccount). */
export const DEFAULT_VALIDATION_LIMITS: SchedulerLimits = {
  maxInFlight: 64,
  maxInFlightPerAccount: 8,
  maxQueued: 4096,
  maxQueuedPerAccount: 1024,
};
/** Retry-After hints never ask a client to wait longer than this. */
export const MAX_RETRY_AFTER_SECONDS = 60;

export class ValidationRunner {
  private readonly deps: AcmeServerDeps;
  private readonly scheduler: ValidationScheduler;

  constructor(deps: AcmeServerDeps, limits: SchedulerLimits = DEFAULT_VALIDATION_LIMITS, now?: () => number) {
    this.deps = deps;
    this.scheduler = new ValidationScheduler(limits, now);
  }

  /** Whether a new validation for this account would be taken now; checked before the challenge leaves pending. */
  canAdmit(accountId: string): Admission {
    return this.scheduler.canAdmit(accountId);
  }

  /**
   * Runs one validation now or queues it; the run never rejects (failures are
   * recorded, internal ones reported). `isRecovery`: accepted before a
   * restart, so it is queued whatever the queue bounds say.
   */
  start(
    accountId: string,
    challenge: AcmeChallengeRecord,
    attempt: ChallengeAttempt,
    options: { readonly isRecovery?: boolean } = {},
  ): Admission {
    return this.scheduler.submit(accountId, challenge.id, () => this.run(challenge, attempt), { force: options.isRecovery === true });
  }

  /** RFC 8555 §8.2: seconds a client polling this challenge should wait (1 while it runs; more the deeper it is queued). */
  retryAfterSeconds(accountId: string, challengeId: string): number {
    return this.scheduler.retryAfterSeconds(this.scheduler.placement(challengeId, accountId), MAX_RETRY_AFTER_SECONDS);
  }

  /** Seconds before a refused (queue full) challenge response is worth sending again. */
  refusedRetryAfterSeconds(): number {
    return this.scheduler.refusedRetryAfterSeconds(MAX_RETRY_AFTER_SECONDS);
  }

  get load(): SchedulerLoad {
    return this.scheduler.load;
  }

  get limits(): SchedulerLimits {
    return this.scheduler.limits;
  }

  /** Resolves once every validation started or queued so far (and any they start) has been recorded. */
  settled(): Promise<void> {
    return this.scheduler.idle();
  }

  private async run(challenge: AcmeChallengeRecord, attempt: ChallengeAttempt): Promise<void> {
    const started = performance.now();
    const { store, clock, validator } = this.deps;
    let record: ValidationRecord;
    try {
      const outcome = await validator.validate(attempt);
      const now = clock.now();
      record = outcome.ok
        ? { ok: true, validatedAt: now, authorizationExpiresAt: now + VALID_AUTHORIZATION_LIFETIME_MS }
        : { ok: false, error: { type: ACME_ERROR_PREFIX + outcome.error.type, detail: outcome.error.detail.slice(0, 1024) } };
    } catch (error) {
      // The validator promises never to throw; if it does, the attempt fails without leaking why.
      this.reportInternal(error, challenge);
      record = { ok: false, error: { type: `${ACME_ERROR_PREFIX}serverInternal`, detail: 'validation failed inside the server' } };
    }
    let invalidatedOrders: number;
    try {
      invalidatedOrders = await store.authorizations.recordValidation(challenge.id, record);
    } catch (error) {
      this.reportInternal(error, challenge);
      return;
    }
    try {
      for (let i = 0; i < invalidatedOrders; i++) this.deps.onOrderEnded?.('invalid');
      this.deps.onValidated?.({
        challengeId: challenge.id,
        authorizationId: challenge.authorizationId,
        type: challenge.type,
        ok: record.ok,
        durationMs: performance.now() - started,
      });
    } catch {
      // A listener's failure changes nothing that was recorded.
    }
  }

  private reportInternal(error: unknown, challenge: AcmeChallengeRecord): void {
    try {
      this.deps.onInternalError?.(error, { method: 'validate', path: `/chall/${challenge.id}` });
    } catch {
      // Reporting must not break the runner.
    }
  }
}
