/**
 * Orders and authorizations (RFC 8555 §7.4, §7.5): newOrder with identifier
 * policy, validity window, RFC 9773 `replaces` and authorization reuse; the
 * status each resource shows (§7.1.6), expiry worked out when read.
 */
import type { AcmeAuthorizationRecord, AcmeChallengeType, AcmeOrderRecord, AcmeOrderStatus, NewAcmeAuthorization } from '../domain/acme.js';
import { type AcmeContext, type AcmeReply, type AuthenticatedPost, accountOf, enforceLimit, isPostAsGet, randomId } from './context.js';
import { findByCertId, parseCertId } from './ari.js';
import { authorizationTarget, type AuthorizationTarget } from './identifiers.js';
import { parsePayload } from './jws.js';
import { AcmeProblemError } from './problems.js';
import { AuthorizationUpdateSchema, NewOrderSchema, renderAuthorization, renderOrder, type AuthorizationView } from './wire.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
export const ORDER_LIFETIME_MS = 7 * DAY;
export const PENDING_AUTHORIZATION_LIFETIME_MS = DAY;
/** A reused authorization must outlive this margin, so the order can still be finalized on it. */
const REUSE_MARGIN_MS = HOUR;
/** Clients that poll a processing order wait this long (RFC 8555 §7.4). */
export const PROCESSING_RETRY_AFTER_SECONDS = 1;
const TOKEN_BYTES = 32;

/** POST /new-order (RFC 8555 §7.4). */
export async function newOrder(ctx: AcmeContext, post: AuthenticatedPost): Promise<AcmeReply> {
  const account = accountOf(post);
  const { store, clock } = ctx.deps;
  const now = clock.now();
  enforceLimit(ctx.limiters.newOrder, account.id, now, 'new orders for this account');
  const body = parsePayload(post.payload, NewOrderSchema);
  const identifiers = ctx.identifiers.check(body.identifiers);
  const { notBefore, notAfter } = checkValidity(ctx, body.notBefore, body.notAfter, now);

  // RFC 9773 §5: replaces names a certificate of this account that no live order replaces yet.
  let replacesSerial: string | null = null;
  if (body.replaces !== undefined) {
    const record = await findByCertId(ctx, parseCertId(body.replaces));
    if (record === undefined)
      throw new AcmeProblemError('malformed', 'replaces names no certificate issued through ACME here', { status: 404 });
    if (record.requester !== `acme:${account.id}`)
      throw new AcmeProblemError('unauthorized', 'replaces names a certificate of another account');
    replacesSerial = record.serial;
  }

  const reusedIds: string[] = [];
  const fresh: NewAcmeAuthorization[] = [];
  let expiresAt = now + ORDER_LIFETIME_MS;
  for (const identifier of identifiers) {
    const target = authorizationTarget(identifier);
    const reusable = await store.authorizations.findReusableAuthorization(
      account.id,
      target.identifier,
      target.isWildcard,
      now + REUSE_MARGIN_MS,
    );
    if (reusable !== undefined) {
      reusedIds.push(reusable.id);
      // An order does not outlive the authorizations it stands on.
      expiresAt = Math.min(expiresAt, reusable.expiresAt);
    } else {
      fresh.push(newAuthorization(ctx, account.id, target, now));
    }
  }

  const outcome = await store.orders.createOrder(
    {
      id: randomId(ctx),
      accountId: account.id,
      status: fresh.length === 0 ? 'ready' : 'pending',
      identifiers,
      notBefore,
      notAfter,
      expiresAt,
      createdAt: now,
      replaces: replacesSerial === null ? null : (body.replaces ?? null),
      replacesSerial,
      newAuthorizations: fresh,
      reusedAuthorizationIds: reusedIds,
    },
    now,
  );
  if (!outcome.ok) throw new AcmeProblemError('alreadyReplaced', 'another order already replaces this certificate');
  // Shown as stored, with no read: its new authorizations are pending with no challenge started (so no
  // Retry-After), its reused ones valid past the reuse margin, and it expires no sooner than they do.
  const order = outcome.order;
  return { status: 201, body: renderOrder(ctx.urls, order, order.status), location: ctx.urls.order(order.id) };
}

/** POST-as-GET /order/<id>. */
export async function orderPost(ctx: AcmeContext, post: AuthenticatedPost, orderId: string): Promise<AcmeReply> {
  const order = await ownOrder(ctx, post, orderId);
  if (!isPostAsGet(post)) throw new AcmeProblemError('malformed', 'an order is read with POST-as-GET');
  return orderReply(ctx, order, 200);
}

/** POST /authz/<id>: read (POST-as-GET) or deactivate (RFC 8555 §7.5.2). */
export async function authorizationPost(ctx: AcmeContext, post: AuthenticatedPost, authzId: string): Promise<AcmeReply> {
  const account = accountOf(post);
  const { store } = ctx.deps;
  const authz = await store.authorizations.findAuthorization(authzId);
  if (authz === undefined || authz.accountId !== account.id) throw notFound('authorization');
  if (!isPostAsGet(post)) {
    parsePayload(post.payload, AuthorizationUpdateSchema);
    if (!(await store.authorizations.deactivateAuthorization(authz.id)))
      throw new AcmeProblemError('malformed', `an authorization that is ${authorizationStatus(ctx, authz)} cannot be deactivated`);
    const updated = (await store.authorizations.findAuthorization(authz.id)) ?? authz;
    return { status: 200, body: renderAuthorization(ctx.urls, updated, authorizationStatus(ctx, updated)) };
  }
  const shown = authorizationStatus(ctx, authz);
  const retryAfterSeconds = shown === 'pending' ? validationRetryAfter(ctx, authz) : undefined;
  return {
    status: 200,
    body: renderAuthorization(ctx.urls, authz, shown),
    ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
  };
}

/**
 * RFC 8555 §8.2: while one of its challenges is processing (running or
 * queued), a pending authorization carries the challenge's Retry-After.
 */
function validationRetryAfter(ctx: AcmeContext, authz: AcmeAuthorizationRecord): number | undefined {
  const processing = authz.challenges.find((challenge) => challenge.status === 'processing');
  return processing === undefined ? undefined : ctx.validations.retryAfterSeconds(authz.accountId, processing.id);
}

export async function orderReply(ctx: AcmeContext, order: AcmeOrderRecord, status: number): Promise<AcmeReply> {
  const { shown, retryAfterSeconds } = await orderView(ctx, order);
  return {
    status,
    body: renderOrder(ctx.urls, order, shown),
    location: ctx.urls.order(order.id),
    ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
  };
}

export async function ownOrder(ctx: AcmeContext, post: AuthenticatedPost, orderId: string): Promise<AcmeOrderRecord> {
  const account = accountOf(post);
  const order = await ctx.deps.store.orders.findOrder(orderId);
  // Another account's order is reported as absent, so ids cannot be probed.
  if (order === undefined || order.accountId !== account.id) throw notFound('order');
  return order;
}

/**
 * RFC 8555 §7.1.6: the stored status, with time applied: an order past its
 * expiry that never became valid is invalid; a pending order follows its
 * authorizations (one failed or expired: invalid; all valid: ready).
 */
export async function orderStatus(ctx: AcmeContext, order: AcmeOrderRecord): Promise<AcmeOrderStatus> {
  return (await orderView(ctx, order)).shown;
}

interface OrderView {
  readonly shown: AcmeOrderStatus;
  /** Processing: the finalize's hint; pending: the soonest of the authorizations being validated (RFC 8555 §8.2). */
  readonly retryAfterSeconds?: number;
}

/** The status an order shows and its Retry-After, reading each of a pending order's authorizations once. */
async function orderView(ctx: AcmeContext, order: AcmeOrderRecord): Promise<OrderView> {
  if (order.status === 'processing') return { shown: 'processing', retryAfterSeconds: PROCESSING_RETRY_AFTER_SECONDS };
  if (order.status === 'valid' || order.status === 'invalid') return { shown: order.status };
  if (order.expiresAt <= ctx.deps.clock.now()) return { shown: 'invalid' };
  if (order.status === 'ready') return { shown: 'ready' };
  let allValid = true;
  let soonest: number | undefined;
  for (const id of order.authorizationIds) {
    const authz = await ctx.deps.store.authorizations.findAuthorization(id);
    const status = authz === undefined ? 'invalid' : authorizationStatus(ctx, authz);
    if (status === 'invalid' || status === 'deactivated' || status === 'expired' || status === 'revoked') return { shown: 'invalid' };
    if (status !== 'valid') allValid = false;
    const seconds = authz?.status === 'pending' ? validationRetryAfter(ctx, authz) : undefined;
    if (seconds !== undefined) soonest = soonest === undefined ? seconds : Math.min(soonest, seconds);
  }
  if (allValid) return { shown: 'ready' };
  return soonest === undefined ? { shown: 'pending' } : { shown: 'pending', retryAfterSeconds: soonest };
}

export function authorizationStatus(ctx: AcmeContext, authz: AcmeAuthorizationRecord): AuthorizationView {
  if ((authz.status === 'pending' || authz.status === 'valid') && authz.expiresAt <= ctx.deps.clock.now()) return 'expired';
  return authz.status;
}

/**
 * notBefore/notAfter are honoured exactly as asked or refused, never quietly
 * moved: whole seconds (X.509 keeps no fractions); notBefore not in the
 * future and at most the Authority's backdate (60 s) in the past; notAfter in
 * the future, after notBefore, within the issuing CA's own validity, and the
 * span within the tls-server maximum.
 */
function checkValidity(
  ctx: AcmeContext,
  notBeforeText: string | undefined,
  notAfterText: string | undefined,
  now: number,
): { notBefore: number | null; notAfter: number | null } {
  const notBefore = notBeforeText === undefined ? null : wholeSeconds('notBefore', Date.parse(notBeforeText));
  const notAfter = notAfterText === undefined ? null : wholeSeconds('notAfter', Date.parse(notAfterText));
  if (notBefore !== null) {
    if (notBefore > now) throw new AcmeProblemError('malformed', 'notBefore may not be in the future');
    const backdateMs = ctx.deps.authority.backdateMs;
    if (notBefore < now - backdateMs)
      throw new AcmeProblemError('malformed', `notBefore may be at most ${backdateMs / 1000} s in the past`);
  }
  if (notAfter !== null) {
    if (notAfter <= now) throw new AcmeProblemError('malformed', 'notAfter must be in the future');
    const start = Math.max(notBefore ?? now, now);
    if (notBefore !== null && notAfter <= notBefore) throw new AcmeProblemError('malformed', 'notAfter must be after notBefore');
    if (notAfter - start > ctx.maxCertificateTtlMs || notAfter - (notBefore ?? now) > ctx.maxCertificateTtlMs) {
      throw new AcmeProblemError(
        'malformed',
        `the requested lifetime exceeds the maximum of ${Math.floor(ctx.maxCertificateTtlMs / DAY)} days`,
      );
    }
    const issuerEnd = ctx.deps.authority.issuerNotAfter;
    if (notAfter > issuerEnd)
      throw new AcmeProblemError('malformed', `notAfter is after the issuing CA's own notAfter (${new Date(issuerEnd).toISOString()})`);
  }
  return { notBefore, notAfter };
}

function wholeSeconds(field: string, ms: number): number {
  if (!Number.isFinite(ms)) throw new AcmeProblemError('malformed', `${field} is not an RFC 3339 date-time`);
  if (ms % 1000 !== 0) throw new AcmeProblemError('malformed', `${field} must be whole seconds: certificates carry no fractions`);
  return ms;
}

/**
 * A pending authorization and its challenges: http-01, dns-01 and tls-alpn-01
 * for a name; dns-01 only for a wildcard (RFC 8555 §7.1.3); no dns-01 for an
 * address (RFC 8738 §7). Each token is 256 random bits (§8.1 asks for 128).
 */
function newAuthorization(ctx: AcmeContext, accountId: string, target: AuthorizationTarget, now: number): NewAcmeAuthorization {
  const id = randomId(ctx);
  const types: readonly AcmeChallengeType[] =
    target.identifier.type === 'ip' ? ['http-01', 'tls-alpn-01'] : target.isWildcard ? ['dns-01'] : ['http-01', 'dns-01', 'tls-alpn-01'];
  return {
    id,
    accountId,
    identifier: target.identifier,
    isWildcard: target.isWildcard,
    expiresAt: now + PENDING_AUTHORIZATION_LIFETIME_MS,
    createdAt: now,
    challenges: types.map((type) => ({ id: randomId(ctx), authorizationId: id, type, token: randomId(ctx, TOKEN_BYTES) })),
  };
}

export function notFound(what: string): AcmeProblemError {
  return new AcmeProblemError('malformed', `no such ${what}`, { status: 404 });
}
