/**
 * The checks every ACME POST passes, in Boulder's order (wfe2/verify.go):
 * decode, algorithm, key (jwk or kid), signature, nonce, url. A request that
 * fails one is answered with that check's problem; the nonce is spent only
 * once the signature verified (RFC 8555 §6.5), and a request refused after
 * that (a deactivated account, a wrong url) has used it up: its problem
 * response carries a fresh one, as every response does.
 *
 * A kid request whose account key is cached (account-keys.ts) is verified
 * with that key first; only then are the account row (its status, and the
 * key it names now) read and the nonce spent, together: on PostgreSQL one
 * round trip's wait instead of two. The row still decides: a key that
 * changed since it was cached must verify the request itself.
 */
import type { AcmeHttpRequest } from './transport.js';
import type { CachedAccountKey } from './account-keys.js';
import type { AcmeContext, AuthenticatedPost } from './context.js';
import {
  type DecodedJws,
  decodeJwsBody,
  importAccountKey,
  requireAlgorithmFits,
  signatureRefused,
  signatureVerifies,
  verifySignature,
  type AccountKey,
} from './jws.js';
import { AcmeProblemError } from './problems.js';
import type { AcmeAccountRecord } from '../domain/acme.js';
import type { Awaitable } from '../shared/awaitable.js';

/** RFC 8555 §6.2: jwk only for newAccount and revokeCert (by the certificate's key), kid everywhere else. */
export type KeyMode = 'kid' | 'jwk' | 'either';

const ACCOUNT_ID = /^[A-Za-z0-9_-]{1,64}$/;

interface Verified {
  readonly account: AcmeAccountRecord | undefined;
  readonly key: AccountKey;
  readonly payload: Uint8Array;
  /** Whether the nonce was fresh and is now spent. */
  readonly isNonceFresh: boolean;
}

export async function authenticate(ctx: AcmeContext, request: AcmeHttpRequest, mode: KeyMode): Promise<AuthenticatedPost> {
  const decoded = decodeJwsBody(request.contentType, request.body);
  const { header } = decoded;

  // RFC 8555 §6.2: "jwk" and "kid" are mutually exclusive, and one is required.
  if ((header.jwk === undefined) === (header.kid === undefined)) {
    throw new AcmeProblemError('malformed', 'the JWS protected header must hold exactly one of jwk and kid');
  }
  let verified: Verified;
  if (header.jwk !== undefined) {
    if (mode === 'kid') throw new AcmeProblemError('malformed', 'this request must be signed with the account key named by kid, not a jwk');
    const key = await importAccountKey(header.jwk, decoded.alg);
    const payload = verifySignature(decoded, key.key);
    verified = { account: undefined, key, payload, isNonceFresh: await spendNonce(ctx, decoded) };
  } else {
    if (mode === 'jwk') throw new AcmeProblemError('malformed', 'this request must carry a jwk, not a kid');
    const accountId = accountIdOf(ctx, header.kid ?? '');
    const early = ctx.accountKeys.peek(accountId);
    verified = (await verifiedWithCachedKey(ctx, decoded, early)) ?? (await verifiedWithAccountRow(ctx, decoded, accountId, early?.key));
  }

  // RFC 8555 §6.5: every request carries a fresh nonce, used once.
  if (!verified.isNonceFresh) {
    throw new AcmeProblemError('badNonce', header.nonce === undefined ? 'the JWS has no nonce' : 'the nonce is unknown, used or expired');
  }
  // RFC 8555 §6.4: the url header must be the URL the request was sent to.
  const expectedUrl = `${ctx.urls.base}${request.path}`;
  if (header.url !== expectedUrl) {
    throw new AcmeProblemError('unauthorized', `the JWS url header does not match the request URL ${expectedUrl}`);
  }
  return { decoded, payload: verified.payload, account: verified.account, key: verified.key };
}

/** Spends the request's nonce (false when it has none, or it is not fresh); call only after the signature verified. */
function spendNonce(ctx: AcmeContext, decoded: DecodedJws): Awaitable<boolean> {
  const nonce = decoded.header.nonce;
  return nonce === undefined ? false : ctx.nonces.redeem(nonce, ctx.deps.clock.now());
}

/**
 * The cached key verified the request: the row and the nonce are then read
 * and spent together. undefined when no key is cached for the account, it
 * does not fit the algorithm, the header has crit, or the signature does not
 * verify under it (the account row then decides, as if nothing were cached).
 */
async function verifiedWithCachedKey(
  ctx: AcmeContext,
  decoded: DecodedJws,
  cached: CachedAccountKey | undefined,
): Promise<Verified | undefined> {
  if (cached === undefined || cached.key.alg !== decoded.alg || decoded.header.crit !== undefined) return undefined;
  if (!signatureVerifies(decoded, cached.key.key)) return undefined;
  const payload = new Uint8Array(Buffer.from(decoded.jws.payload, 'base64url'));
  // The row is asked first: when it fails at once (SQLite), no nonce is spent.
  const accountId = cached.accountId;
  const row = ctx.deps.store.accounts.findAccount(accountId);
  const [found, isNonceFresh] = await Promise.all([row, spendNonce(ctx, decoded)]);
  const account = requireValidAccount(found);
  if (account.jwk === cached.storedJwk) return { account, key: cached.key, payload, isNonceFresh };
  // The key changed since it was cached (RFC 8555 §7.3.5, on another node): the request must verify under the new one.
  ctx.accountKeys.forget(accountId);
  const current = await importAccountKey(parseStoredJwk(account), decoded.alg);
  const currentPayload = verifySignature(decoded, current.key);
  ctx.accountKeys.remember(account.id, account.jwk, current);
  return { account, key: current, payload: currentPayload, isNonceFresh };
}

/**
 * The account row first, then its key (cached for that very JWK, or
 * imported), the signature, the nonce. `triedKey`: the cached key
 * verifiedWithCachedKey already found this signature false under.
 */
async function verifiedWithAccountRow(
  ctx: AcmeContext,
  decoded: DecodedJws,
  accountId: string,
  triedKey: AccountKey | undefined,
): Promise<Verified> {
  const account = requireValidAccount(await ctx.deps.store.accounts.findAccount(accountId));
  // The row read just now names the key: a cached import of any other JWK is not used (account-keys.ts).
  const cached = ctx.accountKeys.get(account.id, account.jwk);
  let key: AccountKey;
  if (cached === undefined) {
    key = await importAccountKey(parseStoredJwk(account), decoded.alg);
  } else {
    requireAlgorithmFits(cached, decoded.alg);
    key = cached;
  }
  // The key that already failed this very signature is not asked twice (a crit header, refused first, never got there).
  if (key === triedKey && decoded.header.crit === undefined) throw signatureRefused();
  const payload = verifySignature(decoded, key.key);
  // Only a key that just verified a signature is kept.
  if (cached === undefined) ctx.accountKeys.remember(account.id, account.jwk, key);
  return { account, key, payload, isNonceFresh: await spendNonce(ctx, decoded) };
}

/** kid is the account URL (RFC 8555 §6.2). */
function accountIdOf(ctx: AcmeContext, kid: string): string {
  const prefix = ctx.urls.account('');
  const id = kid.startsWith(prefix) ? kid.slice(prefix.length) : '';
  if (!ACCOUNT_ID.test(id)) throw new AcmeProblemError('malformed', 'the kid is not an account URL of this server');
  return id;
}

/** The account must exist and be valid (RFC 8555 §7.3.6). */
function requireValidAccount(account: AcmeAccountRecord | undefined): AcmeAccountRecord {
  if (account === undefined) throw new AcmeProblemError('accountDoesNotExist', 'no account with this kid');
  if (account.status !== 'valid') throw new AcmeProblemError('unauthorized', `the account is ${account.status}`);
  return account;
}

function parseStoredJwk(account: AcmeAccountRecord): Record<string, unknown> {
  const value: unknown = JSON.parse(account.jwk);
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Error(`account ${account.id}: stored JWK is not an object`);
  return { ...value };
}
