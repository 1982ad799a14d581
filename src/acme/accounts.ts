/**
 * Account management (RFC 8555 §7.3): newAccount, update and deactivation,
 * key rollover, the account's order list.
 */
import { isDomainError } from '../shared/errors.js';
import type { AcmeAccountRecord } from '../domain/acme.js';
import { normalizeDnsName } from '../x509/index.js';
import { type AcmeContext, type AcmeReply, type AuthenticatedPost, accountOf, enforceLimit, isPostAsGet, randomId } from './context.js';
import { verifyExternalAccountBinding } from './eab.js';
import { checkAlgorithm, decodeJwsBody, importAccountKey, parseJson, parsePayload, verifySignature } from './jws.js';
import { AcmeProblemError } from './problems.js';
import { AccountUpdateSchema, KeyChangeSchema, NewAccountSchema, renderAccount } from './wire.js';
import type { AcmeHttpRequest } from './transport.js';
import { z } from 'zod';

const MAX_LISTED_ORDERS = 1000;

/** RFC 8555 §7.3, §7.3.1 (existing key), §7.3.4 (EAB). Signed with jwk. */
export async function newAccount(ctx: AcmeContext, post: AuthenticatedPost, request: AcmeHttpRequest): Promise<AcmeReply> {
  const { store, clock, policy, meta } = ctx.deps;
  enforceLimit(ctx.limiters.newAccount, request.clientAddress, clock.now(), 'new accounts from this address');
  const body = parsePayload(post.payload, NewAccountSchema);

  // §7.3.1: the key already has an account: answer with it, 200 and its Location.
  const existing = await store.accounts.findAccountByThumbprint(post.key.thumbprint);
  if (existing !== undefined) {
    if (existing.status !== 'valid') throw new AcmeProblemError('unauthorized', `the account for this key is ${existing.status}`);
    return accountReply(ctx, existing, 200);
  }
  if (body.onlyReturnExisting === true) throw new AcmeProblemError('accountDoesNotExist', 'no account exists for this key');
  if (meta?.termsOfService !== undefined && body.termsOfServiceAgreed !== true) {
    throw new AcmeProblemError('malformed', `the terms of service (${meta.termsOfService}) must be agreed to (termsOfServiceAgreed: true)`);
  }
  const contact = checkContacts(body.contact ?? []);

  let eabKeyId: string | null = null;
  if (body.externalAccountBinding !== undefined) {
    eabKeyId = await verifyExternalAccountBinding(store.eabKeys, body.externalAccountBinding, post.key, ctx.urls.newAccount);
  } else if (policy.eabRequired) {
    throw new AcmeProblemError(
      'externalAccountRequired',
      'this server requires an external account binding (ask an operator for an EAB key)',
    );
  }

  let account: AcmeAccountRecord;
  try {
    account = await store.accounts.createAccount({
      id: randomId(ctx),
      keyThumbprint: post.key.thumbprint,
      jwk: JSON.stringify(post.key.jwk),
      contact,
      eabKeyId,
      createdAt: clock.now(),
    });
  } catch (error) {
    if (isDomainError(error, 'conflict') || isDomainError(error, 'notFound')) {
      // A concurrent newAccount with the same key, or the EAB key bound meanwhile.
      const raced = await store.accounts.findAccountByThumbprint(post.key.thumbprint);
      if (raced !== undefined && raced.status === 'valid') return accountReply(ctx, raced, 200);
      throw new AcmeProblemError('unauthorized', 'the external account key is already bound to another account');
    }
    throw error;
  }
  return accountReply(ctx, account, 201);
}

/** POST /account/<id>: read (POST-as-GET), update contact (§7.3.2), deactivate (§7.3.6). */
export async function accountPost(ctx: AcmeContext, post: AuthenticatedPost, accountId: string): Promise<AcmeReply> {
  const account = ownAccount(post, accountId);
  if (isPostAsGet(post)) return accountReply(ctx, account, 200);
  const update = parsePayload(post.payload, AccountUpdateSchema);
  const { store } = ctx.deps;
  if (update.status !== undefined) {
    if (update.status !== 'deactivated') throw new AcmeProblemError('malformed', 'an account may only be updated to status "deactivated"');
    const deactivated = await store.accounts.deactivateAccount(account.id);
    // RFC 8555 §7.3.6: nothing signed by this account is accepted any more (its row's status says so too).
    ctx.accountKeys.forget(account.id);
    return accountReply(ctx, deactivated, 200);
  }
  if (update.contact !== undefined)
    return accountReply(ctx, await store.accounts.updateAccountContact(account.id, checkContacts(update.contact)), 200);
  return accountReply(ctx, account, 200);
}

/** POST-as-GET /account/<id>/orders (§7.1.2.1), newest first, one page. */
export async function accountOrders(ctx: AcmeContext, post: AuthenticatedPost, accountId: string): Promise<AcmeReply> {
  const account = ownAccount(post, accountId);
  if (!isPostAsGet(post)) throw new AcmeProblemError('malformed', 'the orders list is read with POST-as-GET');
  const ids = await ctx.deps.store.orders.listOrderIds(account.id, MAX_LISTED_ORDERS);
  return { status: 200, body: { orders: ids.map((id) => ctx.urls.order(id)) } };
}

/**
 * RFC 8555 §7.3.5: the outer JWS is signed by the current key (kid); its
 * payload is a JWS signed by the new key (jwk) with the same url, whose
 * payload names the account and the old key.
 */
export async function keyChange(ctx: AcmeContext, post: AuthenticatedPost): Promise<AcmeReply> {
  const account = accountOf(post);
  const inner = decodeJwsBody('application/jose+json', Buffer.from(post.payload));
  checkAlgorithm(inner.header.alg);
  if (inner.header.jwk === undefined || inner.header.kid !== undefined) {
    throw new AcmeProblemError('malformed', 'the inner JWS of a key change must carry the new key as jwk and no kid');
  }
  if (inner.header.url !== post.decoded.header.url) throw new AcmeProblemError('malformed', 'the inner JWS url must equal the outer url');
  const newKey = await importAccountKey(inner.header.jwk, inner.alg);
  const payload = verifySignature(inner, newKey.key);
  const change = parseJson(Buffer.from(payload).toString('utf8'), KeyChangeSchema, 'the key change payload');
  if (change.account !== ctx.urls.account(account.id)) throw new AcmeProblemError('malformed', 'the key change names another account');
  const oldKey = await importAccountKey(change.oldKey, undefined);
  if (oldKey.thumbprint !== post.key.thumbprint) throw new AcmeProblemError('malformed', "oldKey is not the account's current key");
  if (newKey.thumbprint === oldKey.thumbprint) throw new AcmeProblemError('malformed', 'the new key is the current key');

  const holder = await ctx.deps.store.accounts.findAccountByThumbprint(newKey.thumbprint);
  if (holder !== undefined) throw keyInUse(ctx, holder);
  try {
    const updated = await ctx.deps.store.accounts.changeAccountKey(account.id, JSON.stringify(newKey.jwk), newKey.thumbprint);
    // RFC 8555 §7.3.5: from now on only the new key signs for the account (the stored JWK differs too).
    ctx.accountKeys.forget(account.id);
    return accountReply(ctx, updated, 200);
  } catch (error) {
    const raced = isDomainError(error, 'conflict') ? await ctx.deps.store.accounts.findAccountByThumbprint(newKey.thumbprint) : undefined;
    if (raced !== undefined) throw keyInUse(ctx, raced);
    throw error;
  }
}

/** §7.3.5: 409 with the Location of the account that holds the key. */
function keyInUse(ctx: AcmeContext, holder: AcmeAccountRecord): AcmeProblemError {
  return new AcmeProblemError('malformed', 'the new key already belongs to an account', {
    status: 409,
    headers: { location: ctx.urls.account(holder.id) },
  });
}

function ownAccount(post: AuthenticatedPost, accountId: string): AcmeAccountRecord {
  const account = accountOf(post);
  if (account.id !== accountId) throw new AcmeProblemError('unauthorized', 'the request is signed by another account');
  return account;
}

function accountReply(ctx: AcmeContext, account: AcmeAccountRecord, status: number): AcmeReply {
  return { status, body: renderAccount(ctx.urls, account), location: ctx.urls.account(account.id) };
}

const LOCAL_PART = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$/;
const MailtoSchema = z.string().startsWith('mailto:');

/** RFC 8555 §7.3: mailto: only (unsupportedContact), one plain address each (invalidContact). */
export function checkContacts(contacts: readonly string[]): string[] {
  return contacts.map((contact) => {
    if (!MailtoSchema.safeParse(contact).success) {
      throw new AcmeProblemError('unsupportedContact', `contact "${contact.slice(0, 64)}" is not a mailto: URL`);
    }
    const address = contact.slice('mailto:'.length);
    // hfields (?subject=...) and lists of addresses are refused, as Boulder does.
    const at = address.lastIndexOf('@');
    const local = address.slice(0, at);
    const domain = address.slice(at + 1);
    if (
      at <= 0 ||
      address.includes('?') ||
      address.includes(',') ||
      !LOCAL_PART.test(local) ||
      local.startsWith('.') ||
      local.endsWith('.')
    ) {
      throw new AcmeProblemError('invalidContact', `contact "${contact.slice(0, 64)}" is not a single email address`);
    }
    let normalizedDomain: string;
    try {
      normalizedDomain = normalizeDnsName(domain);
    } catch {
      throw new AcmeProblemError('invalidContact', `contact "${contact.slice(0, 64)}" has an invalid domain`);
    }
    if (!normalizedDomain.includes('.'))
      throw new AcmeProblemError('invalidContact', `contact "${contact.slice(0, 64)}" has no dotted domain`);
    return `mailto:${local}@${normalizedDomain}`;
  });
}
