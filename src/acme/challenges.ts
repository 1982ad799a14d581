/**
 * Challenges (RFC 8555 §7.5.1, §8): the client's "go" moves a challenge to
 * processing and is answered at once; validation runs in the background and
 * its outcome is written in one store transaction (challenge, authorization,
 * orders). `settled()` lets tests and the bench await the outcome instead of sleeping.
 */
import { performance } from 'node:perf_hooks';
import type { AcmeChallengeRecord, ValidationRecord } from '../shared/acme-records.js';
import type { AcmeContext, AcmeReply, AuthenticatedPost } from './context.js';
import { accountOf, isPostAsGet } from './context.js';
import { parsePayload } from './jws.js';
import { authorizationStatus, notFound, PROCESSING_RETRY_AFTER_SECONDS, VALID_AUTHORIZATION_LIFETIME_MS } from './orders.js';
import type { AcmeServerDeps } from './ports.js';
import { ACME_ERROR_PREFIX, AcmeProblemError } from './problems.js';
import type { ChallengeAttempt } from './validation/types.js';
import { ChallengeResponseSchema, renderChallenge } from './wire.js';

export class ValidationRunner {
  readonly #deps: AcmeServerDeps;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(deps: AcmeServerDeps) {
    this.#deps = deps;
  }

  /** Starts one validation; never rejects (failures are recorded, internal ones reported). */
  start(challenge: AcmeChallengeRecord, attempt: ChallengeAttempt): void {
    const run = this.#run(challenge, attempt).finally(() => this.#inFlight.delete(run));
    this.#inFlight.add(run);
  }

  /** Resolves once every validation started so far (and any they start) has been recorded. */
  async settled(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight]);
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
    try {
      store.recordValidation(challenge.id, record);
    } catch (error) {
      this.#reportInternal(error, challenge);
      return;
    }
    try {
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
 * Single-process by design, like the nonce store.
 */
export function resumeInterrupted(ctx: AcmeContext): void {
  const { store } = ctx.deps;
  store.resetInterruptedFinalizations();
  for (const challenge of store.listInterruptedChallenges()) {
    const authz = store.findAuthorization(challenge.authorizationId);
    const account = authz === undefined ? undefined : store.findAccount(authz.accountId);
    if (authz === undefined || account === undefined) continue;
    ctx.validations.start(challenge, {
      type: challenge.type,
      token: challenge.token,
      keyAuthorization: `${challenge.token}.${account.keyThumbprint}`,
      identifier: authz.identifier,
    });
  }
}

/** POST /chall/<id>: read (POST-as-GET), or start validation with `{}`. */
export function challengePost(ctx: AcmeContext, post: AuthenticatedPost, challengeId: string): AcmeReply {
  const account = accountOf(post);
  const { store, clock } = ctx.deps;
  const challenge = store.findChallenge(challengeId);
  const authz = challenge === undefined ? undefined : store.findAuthorization(challenge.authorizationId);
  if (challenge === undefined || authz === undefined || authz.accountId !== account.id) throw notFound('challenge');
  const up = `<${ctx.urls.authorization(authz.id)}>;rel="up"`;
  if (isPostAsGet(post)) return { status: 200, body: renderChallenge(ctx.urls, challenge), links: [up], ...pollHint(challenge.status) };

  parsePayload(post.payload, ChallengeResponseSchema);
  const authzStatus = authorizationStatus(ctx, authz);
  // A repeated "go", or one for an authorization already decided, changes nothing (RFC 8555 §7.5.1).
  if (challenge.status !== 'pending' || authzStatus !== 'pending') {
    if (authzStatus === 'expired') throw new AcmeProblemError('malformed', 'the authorization has expired');
    return { status: 200, body: renderChallenge(ctx.urls, challenge), links: [up] };
  }
  if (!store.startChallenge(challenge.id, clock.now())) {
    const current = store.findChallenge(challenge.id) ?? challenge;
    return { status: 200, body: renderChallenge(ctx.urls, current), links: [up], ...pollHint(current.status) };
  }
  ctx.validations.start(challenge, {
    type: challenge.type,
    token: challenge.token,
    // RFC 8555 §8.1: keyAuthorization = token || '.' || base64url(JWK thumbprint).
    keyAuthorization: `${challenge.token}.${account.keyThumbprint}`,
    identifier: authz.identifier,
  });
  return { status: 200, body: renderChallenge(ctx.urls, { ...challenge, status: 'processing' }), links: [up], ...pollHint('processing') };
}

/** RFC 8555 §8.2: a Retry-After on a challenge still being validated; clients otherwise poll at their own (slower) default. */
function pollHint(status: AcmeChallengeRecord['status']): { retryAfterSeconds?: number } {
  return status === 'processing' ? { retryAfterSeconds: PROCESSING_RETRY_AFTER_SECONDS } : {};
}
