/**
 * The checks every ACME POST passes, in Boulder's order (wfe2/verify.go):
 * decode, algorithm, key (jwk or kid), signature, nonce, url. A request that
 * fails one is answered with that check's problem and changes nothing.
 */
import type { AcmeHttpRequest } from './transport.js';
import type { AcmeContext, AuthenticatedPost } from './context.js';
import { decodeJwsBody, importAccountKey, requireAlgorithmFits, verifySignature, type AccountKey } from './jws.js';
import { AcmeProblemError } from './problems.js';
import type { AcmeAccountRecord } from '../shared/acme-records.js';

/** RFC 8555 §6.2: jwk only for newAccount and revokeCert (by the certificate's key), kid everywhere else. */
export type KeyMode = 'kid' | 'jwk' | 'either';

const ACCOUNT_ID = /^[A-Za-z0-9_-]{1,64}$/;

export async function authenticate(ctx: AcmeContext, request: AcmeHttpRequest, mode: KeyMode): Promise<AuthenticatedPost> {
  const decoded = decodeJwsBody(request.contentType, request.body);
  const { header } = decoded;

  // RFC 8555 §6.2: "jwk" and "kid" are mutually exclusive, and one is required.
  if ((header.jwk === undefined) === (header.kid === undefined)) {
    throw new AcmeProblemError('malformed', 'the JWS protected header must hold exactly one of jwk and kid');
  }
  let key: AccountKey;
  let account: AcmeAccountRecord | undefined;
  let cacheAfterVerify: AcmeAccountRecord | undefined;
  if (header.jwk !== undefined) {
    if (mode === 'kid') throw new AcmeProblemError('malformed', 'this request must be signed with the account key named by kid, not a jwk');
    key = await importAccountKey(header.jwk, decoded.alg);
  } else {
    if (mode === 'jwk') throw new AcmeProblemError('malformed', 'this request must carry a jwk, not a kid');
    account = await accountFromKid(ctx, header.kid ?? '');
    // The row read just now names the key: a cached import of any other JWK is not used (account-keys.ts).
    const cached = ctx.accountKeys.get(account.id, account.jwk);
    if (cached === undefined) {
      key = await importAccountKey(parseStoredJwk(account), decoded.alg);
    } else {
      requireAlgorithmFits(cached, decoded.alg);
      key = cached;
    }
    cacheAfterVerify = cached === undefined ? account : undefined;
  }

  const payload = verifySignature(decoded, key.key);
  // Only a key that just verified a signature is kept.
  if (cacheAfterVerify !== undefined) ctx.accountKeys.remember(cacheAfterVerify.id, cacheAfterVerify.jwk, key);

  // RFC 8555 §6.5: every request carries a fresh nonce, used once.
  const nonce = header.nonce;
  if (nonce === undefined || !(await ctx.nonces.redeem(nonce, ctx.deps.clock.now()))) {
    throw new AcmeProblemError('badNonce', nonce === undefined ? 'the JWS has no nonce' : 'the nonce is unknown, used or expired');
  }
  // RFC 8555 §6.4: the url header must be the URL the request was sent to.
  const expectedUrl = `${ctx.urls.base}${request.path}`;
  if (header.url !== expectedUrl) {
    throw new AcmeProblemError('unauthorized', `the JWS url header does not match the request URL ${expectedUrl}`);
  }
  return { decoded, payload, account, key };
}

/** kid is the account URL (RFC 8555 §6.2); the account must exist and be valid (§7.3.6). */
async function accountFromKid(ctx: AcmeContext, kid: string): Promise<AcmeAccountRecord> {
  const prefix = ctx.urls.account('');
  const id = kid.startsWith(prefix) ? kid.slice(prefix.length) : '';
  if (!ACCOUNT_ID.test(id)) throw new AcmeProblemError('malformed', 'the kid is not an account URL of this server');
  const account = await ctx.deps.store.findAccount(id);
  if (account === undefined) throw new AcmeProblemError('accountDoesNotExist', 'no account with this kid');
  if (account.status !== 'valid') throw new AcmeProblemError('unauthorized', `the account is ${account.status}`);
  return account;
}

function parseStoredJwk(account: AcmeAccountRecord): Record<string, unknown> {
  const value: unknown = JSON.parse(account.jwk);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`account ${account.id}: stored JWK is not an object`);
  return { ...value };
}
