/**
 * Challenges (RFC 8555 §7.5.1, §8): the client's "go" moves a challenge to
 * processing and is answered at once; validation runs in the background,
 * through the validation scheduler (a global and a per-account cap on
 * validations in flight, fair bounded queues for the rest), and its outcome
 * is written in one store transaction (challenge, authorization, orders).
 * `settled()` lets tests and the bench await the outcome instead of sleeping.
 */
import { performance } from 'node:perf_hooks';
import type { AcmeChallengeRecord, ValidationRecord } from '../shared/acme-records.js';
import type { AcmeContext, AcmeReply, AuthenticatedPost } from './context.js';
import { accountOf, isPostAsGet } from './context.js';
import { parsePayload } from './jws.js';
import { authorizationStatus, notFound, VALID_AUTHORIZATION_LIFETIME_MS } from './orders.js';
import type { AcmeServerDeps } from './ports.js';
import { ACME_ERROR_PREFIX, AcmeProblemError } from './problems.js';
import { ValidationScheduler, type Admission, type SchedulerLimits, type SchedulerLoad } from './validation/scheduler.js';
import type { ChallengeAttempt } from './validation/types.js';
import { ChallengeResponseSchema, renderChallenge } from './wire.js';

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
  readonly #deps: AcmeServerDeps;
  readonly #scheduler: ValidationScheduler;

  constructor(deps: AcmeServerDeps, limits: SchedulerLimits = DEFAULT_VALIDATION_LIMITS, now?: () => number) {
    this.#deps = deps;
    this.#scheduler = new ValidationScheduler(limits, now);
  }

  /** Whether a new validation for this account would be taken now; checked before the challenge leaves pending. */
  canAdmit(accountId: string): Admission {
    return this.#scheduler.canAdmit(accountId);
  }

  /**
   * Runs one validation now or queues it; the run never rejects (failures are
   * recorded, internal ones reported). `isRecovery`: accepted before a
   * restart, so it is queued whatever the queue bounds say.
   */
  start(accountId: string, challenge: AcmeChallengeRecord, attempt: ChallengeAttempt, options: { readonly isRecovery?: boolean } = {}): Admission {
    return this.#scheduler.submit(accountId, challenge.id, () => this.#run(challenge, attempt), { force: options.isRecovery === true });
  }

  /** RFC 8555 §8.2: seconds a client polling this challenge should wait (1 while it runs; more the deeper it is queued). */
  retryAfterSeconds(accountId: string, challengeId: string): number {
    return this.#scheduler.retryAfterSeconds(this.#scheduler.placement(challengeId, accountId), MAX_RETRY_AFTER_SECONDS);
  }

  /** Seconds before a refused (queue full) challenge response is worth sending again. */
  refusedRetryAfterSeconds(): number {
    return this.#scheduler.refusedRetryAfterSeconds(MAX_RETRY_AFTER_SECONDS);
  }

  get load(): SchedulerLoad {
    return this.#scheduler.load;
  }

  get limits(): SchedulerLimits {
    return this.#scheduler.limits;
  }

  /** Resolves once every validation started or queued so far (and any they start) has been recorded. */
  settled(): Promise<void> {
    return this.#scheduler.idle();
  }

  async #run(challenge: AcmeChallengeRecord, attempt: ChallengeAttempt): Promise<void> {
    const started = performance.now();
    const { store, clock, validator } = this.#deps;
    let record: ValidationRecord;
    try {
      const outcome = await validator.validate(attempt);
      const now = clock.now();
      record = outcome.ok
        ? { ok: true, validatedAt: now, authorizationExpiresAt: now + VALID_AUTHORIZATION_LIFETIME_MS }
        : { ok: false, error: { type: ACME_ERROR_PREFIX + outcome.error.type, detail: outcome.error.detail.slice(0, 1024) } };
    } catch (error) {
      // The validator promises never to throw; if it does, the attempt fails without leaking why.
      this.#reportInternal(error, challenge);
      record = { ok: false, error: { type: `${ACME_ERROR_PREFIX}serverInternal`, detail: 'validation failed inside the server' } };
    }
    let invalidatedOrders: number;
    try {
      invalidatedOrders = await store.authorizations.recordValidation(challenge.id, record);
    } catch (error) {
      this.#reportInternal(error, challenge);
      return;
    }
    try {
      for (let i = 0; i < invalidatedOrders; i++) this.#deps.onOrderEnded?.('invalid');
      this.#deps.onValidated?.({
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

  #reportInternal(error: unknown, challenge: AcmeChallengeRecord): void {
    try {
      this.#deps.onInternalError?.(error, { method: 'validate', path: `/chall/${challenge.id}` });
    } catch {
      // Reporting must not break the runner.
    }
  }
}

/**
 * At start: validations a stopped process left `processing` run again (the
 * client is polling and would otherwise wait for ever), and orders whose
 * finalize it never answered go back to `ready` so the client's retry works.
 * With several nodes on one database the store resets only finalizations no
 * live node can still be running; a challenge another live node is validating
 * may be validated twice, and the first outcome recorded stands.
 * The reset is the first call, so a synchronous store has done it when this returns.
 */
export async function resumeInterrupted(ctx: AcmeContext): Promise<void> {
  const { store } = ctx.deps;
  await store.orders.resetInterruptedFinalizations();
  for (const challenge of await store.authorizations.listInterruptedChallenges()) {
    const authz = await store.authorizations.findAuthorization(challenge.authorizationId);
    const account = authz === undefined ? undefined : await store.accounts.findAccount(authz.accountId);
    if (authz === undefined || account === undefined) continue;
    // Through the same scheduler as new work: caps and fairness hold at start-up too.
    ctx.validations.start(
      account.id,
      challenge,
      {
        type: challenge.type,
        token: challenge.token,
        keyAuthorization: `${challenge.token}.${account.keyThumbprint}`,
        identifier: authz.identifier,
      },
      { isRecovery: true },
    );
  }
}

/** POST /chall/<id>: read (POST-as-GET), or start validation with `{}`. */
export async function challengePost(ctx: AcmeContext, post: AuthenticatedPost, challengeId: string): Promise<AcmeReply> {
  const account = accountOf(post);
  const { store, clock } = ctx.deps;
  const authz = await store.authorizations.findChallengeAuthorization(challengeId);
  const challenge = authz?.challenges.find((candidate) => candidate.id === challengeId);
  if (challenge === undefined || authz === undefined || authz.accountId !== account.id) throw notFound('challenge');
  const up = `<${ctx.urls.authorization(authz.id)}>;rel="up"`;
  if (isPostAsGet(post)) return { status: 200, body: renderChallenge(ctx.urls, challenge), links: [up], ...pollHint(ctx, account.id, challenge) };

  parsePayload(post.payload, ChallengeResponseSchema);
  const authzStatus = authorizationStatus(ctx, authz);
  // A repeated "go", or one for an authorization already decided, changes nothing (RFC 8555 §7.5.1).
  if (challenge.status !== 'pending' || authzStatus !== 'pending') {
    if (authzStatus === 'expired') throw new AcmeProblemError('malformed', 'the authorization has expired');
    return { status: 200, body: renderChallenge(ctx.urls, challenge), links: [up], ...pollHint(ctx, account.id, challenge) };
  }
  // Past the queue bounds the challenge stays pending and the client is told when to try again (RFC 8555 §6.6).
  const admission = ctx.validations.canAdmit(account.id);
  if (!admission.ok) {
    const whose = admission.reason === 'accountQueueFull' ? 'this account has' : 'the server has';
    const { maxQueued, maxQueuedPerAccount } = ctx.validations.limits;
    const bound = admission.reason === 'accountQueueFull' ? maxQueuedPerAccount : maxQueued;
    const retryAfterSeconds = ctx.validations.refusedRetryAfterSeconds();
    throw new AcmeProblemError('rateLimited', `${whose} ${bound} validations waiting already; the challenge stays pending, retry after ${retryAfterSeconds} s`, {
      retryAfterSeconds,
    });
  }
  if (!(await store.authorizations.startChallenge(challenge.id, clock.now()))) {
    const current = (await store.authorizations.findChallenge(challenge.id)) ?? challenge;
    return { status: 200, body: renderChallenge(ctx.urls, current), links: [up], ...pollHint(ctx, account.id, current) };
  }
  ctx.validations.start(account.id, challenge, {
    type: challenge.type,
    token: challenge.token,
    // RFC 8555 §8.1: keyAuthorization = token || '.' || base64url(JWK thumbprint).
    keyAuthorization: `${challenge.token}.${account.keyThumbprint}`,
    identifier: authz.identifier,
  });
  const processing: AcmeChallengeRecord = { ...challenge, status: 'processing' };
  return { status: 200, body: renderChallenge(ctx.urls, processing), links: [up], ...pollHint(ctx, account.id, processing) };
}

/**
 * RFC 8555 §8.2: a Retry-After on a challenge still being validated (queued
 * ones wait longer); clients otherwise poll at their own (slower) default.
 */
export function pollHint(ctx: AcmeContext, accountId: string, challenge: AcmeChallengeRecord): { retryAfterSeconds?: number } {
  return challenge.status === 'processing' ? { retryAfterSeconds: ctx.validations.retryAfterSeconds(accountId, challenge.id) } : {};
}
