/**
 * Challenges (RFC 8555 §7.5.1, §8): the client's "go" moves a challenge to
 * processing and is answered at once; validation runs in the background
 * (validation-runner.ts: the validation scheduler, a global and a per-account
 * cap on validations in flight, fair bounded queues for the rest), and its
 * outcome is written in one store transaction (challenge, authorization,
 * orders). `settled()` lets tests and the bench await the outcome.
 */
import type { AcmeChallengeRecord } from '../domain/acme.js';
import { type AcmeContext, type AcmeReply, type AuthenticatedPost, accountOf, isPostAsGet } from './context.js';
import { parsePayload } from './jws.js';
import { authorizationStatus, notFound } from './orders.js';
import { AcmeProblemError } from './problems.js';
import { ChallengeResponseSchema, renderChallenge } from './wire.js';

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
  if (isPostAsGet(post))
    return { status: 200, body: renderChallenge(ctx.urls, challenge), links: [up], ...pollHint(ctx, account.id, challenge) };

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
    throw new AcmeProblemError(
      'rateLimited',
      `${whose} ${bound} validations waiting already; the challenge stays pending, retry after ${retryAfterSeconds} s`,
      {
        retryAfterSeconds,
      },
    );
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
