/**
 * Finalize and download (RFC 8555 §7.4, §7.4.2). Issuance is synchronous:
 * the answer already says valid (certbot and cert-manager poll processing
 * orders badly). A refused CSR leaves the order ready for another try.
 */
import { isIP } from 'node:net';
import { isDomainError } from '../shared/errors.js';
import type { AcmeOrderRecord } from '../domain/acme.js';
import { normalizeIpAddress, parseCsr, toPem, type ParsedCsr } from '../x509/index.js';
import { type AcmeContext, type AcmeReply, type AuthenticatedPost, accountOf, enforceLimit, isPostAsGet } from './context.js';
import { parsePayload } from './jws.js';
import { notFound, orderReply, orderStatus, ownOrder } from './orders.js';
import { AcmeProblemError, toAcmeProblem } from './problems.js';
import { FinalizeSchema, identifierKey } from './wire.js';

/** POST /order/<id>/finalize. */
export async function finalizeOrder(ctx: AcmeContext, post: AuthenticatedPost, orderId: string): Promise<AcmeReply> {
  const account = accountOf(post);
  const { store, authority, clock } = ctx.deps;
  const order = await ownOrder(ctx, post, orderId);
  enforceLimit(ctx.limiters.finalize, account.id, clock.now(), 'finalize requests for this account');
  // RFC 8555 §7.4: finalize before every authorization is valid is orderNotReady.
  const status = await orderStatus(ctx, order);
  if (status !== 'ready') throw new AcmeProblemError('orderNotReady', `the order is ${status}, not ready`);

  const { csr } = parsePayload(post.payload, FinalizeSchema);
  const parsed = await parseFinalizeCsr(csr, ctx.deps.checkCsr);
  checkCsrNames(order, parsed);
  // Boulder refuses a certificate for the account's own key: that key must stay an account key.
  if (Buffer.from(parsed.publicKey).equals(spkiOf(post))) throw new AcmeProblemError('badCSR', 'the CSR key must not be the account key');

  requireValidityStillHonourable(order, ctx.deps.clock.now(), ctx.deps.authority.backdateMs);

  if (!(await store.orders.beginFinalize(order.id)))
    throw new AcmeProblemError('orderNotReady', 'the order is being finalized by another request');
  let serial: string;
  try {
    const issued = await authority.issue(
      {
        publicKey: parsed.publicKey,
        dnsNames: order.identifiers.filter((i) => i.type === 'dns').map((i) => i.value),
        ipAddresses: order.identifiers.filter((i) => i.type === 'ip').map((i) => i.value),
        ...(order.notBefore === null ? {} : { notBefore: order.notBefore }),
        ...(order.notAfter === null ? {} : { notAfter: order.notAfter }),
        requester: `acme:${account.id}`,
      },
      'tls-server',
    );
    serial = issued.serial;
  } catch (error) {
    // Nothing was handed out: the order goes back to ready so the client can try again.
    await store.orders.abortFinalize(order.id);
    const problem = toAcmeProblem(error);
    if (problem === undefined) throw error;
    // The Authority refuses keys and names as badCSR/malformed/rejectedIdentifier; to the client it is the CSR.
    throw problem.type === 'malformed' && problem.status === 400 ? new AcmeProblemError('badCSR', problem.detail) : problem;
  }
  const completed = await store.orders.completeFinalize(order.id, serial);
  ctx.deps.onOrderEnded?.('valid');
  return orderReply(ctx, completed, 200);
}

/** POST-as-GET /cert/<serial>: leaf then intermediate (RFC 8555 §7.4.2), only to the account that ordered it. */
export async function downloadCertificate(ctx: AcmeContext, post: AuthenticatedPost, serial: string): Promise<AcmeReply> {
  const account = accountOf(post);
  if (!isPostAsGet(post)) throw new AcmeProblemError('malformed', 'a certificate is fetched with POST-as-GET');
  const record = /^[0-9a-f]{2,40}$/.test(serial) ? await ctx.deps.certificates.findBySerial(serial) : undefined;
  if (record === undefined || record.requester !== `acme:${account.id}`) throw notFound('certificate');
  return {
    status: 200,
    contentType: 'application/pem-certificate-chain',
    body: toPem(record.der) + ctx.deps.authority.material.intermediate.certPem,
  };
}

/** `checkCsr`: the crypto pool's when one is configured (ports.ts), else parseCsr on this thread. */
async function parseFinalizeCsr(csr: string, checkCsr: ((csr: string) => Promise<ParsedCsr>) | undefined): Promise<ParsedCsr> {
  try {
    return await (checkCsr === undefined ? parseCsr(csr) : checkCsr(csr));
  } catch (error) {
    // A refusal of the CSR itself is badCSR (RFC 8555 §7.4); a pool at capacity is not the CSR's fault and stays
    // `busy` (serverInternal, 503, Retry-After: problems.ts). The order stays ready either way.
    if (isDomainError(error) && error.kind !== 'busy') throw new AcmeProblemError('badCSR', error.detail);
    throw error;
  }
}

/** RFC 8555 §7.4: the CSR asks for exactly the order's identifiers (CN, if any, among them). */
function checkCsrNames(order: AcmeOrderRecord, csr: ParsedCsr): void {
  if (csr.uris.length > 0 || csr.emails.length > 0)
    throw new AcmeProblemError('badCSR', 'the CSR asks for URI or email names, which ACME does not certify');
  const asked = new Set<string>();
  for (const name of csr.dnsNames) asked.add(`dns:${name.toLowerCase()}`);
  for (const address of csr.ipAddresses) asked.add(`ip:${address}`);
  if (csr.commonName !== null) {
    asked.add(isIP(csr.commonName) === 0 ? `dns:${csr.commonName.toLowerCase()}` : `ip:${normalizeIpAddress(csr.commonName)}`);
  }
  const ordered = new Set(order.identifiers.map(identifierKey));
  const extra = [...asked].filter((name) => !ordered.has(name));
  const missing = [...ordered].filter((name) => !asked.has(name));
  if (extra.length > 0 || missing.length > 0) {
    const parts = [
      ...(extra.length > 0 ? [`not in the order: ${extra.join(', ')}`] : []),
      ...(missing.length > 0 ? [`missing from the CSR: ${missing.join(', ')}`] : []),
    ];
    throw new AcmeProblemError('badCSR', `the CSR names must equal the order's identifiers (${parts.join('; ')})`);
  }
}

function spkiOf(post: AuthenticatedPost): Buffer {
  return post.key.key.export({ type: 'spki', format: 'der' });
}

/**
 * An order's notBefore is honoured exactly, and the Authority backdates by at
 * most 60 s: an order finalized later than that cannot get the notBefore it
 * asked for, so it is refused (never issued with another date).
 */
function requireValidityStillHonourable(
  order: { readonly notBefore: number | null; readonly notAfter: number | null },
  now: number,
  backdateMs: number,
): void {
  if (order.notBefore !== null && order.notBefore < now - backdateMs) {
    throw new AcmeProblemError(
      'malformed',
      `the order's notBefore (${new Date(order.notBefore).toISOString()}) is now more than ${backdateMs / 1000} s in the past and keysmith does not backdate further: place a new order`,
    );
  }
  if (order.notAfter !== null && order.notAfter <= now)
    throw new AcmeProblemError('malformed', "the order's notAfter has passed: place a new order");
}
