/**
 * revokeCert (RFC 8555 §7.6): by the account that ordered the certificate
 * (kid), by the certificate's own key (jwk), or by an account holding valid
 * authorizations for every name in it. Revocation itself is the Authority's.
 */
import { isDomainError } from '../shared/errors.js';
import { REVOCATION_REASONS, type CertificateRecord, type RevocationReason } from '../domain/certificates.js';
import { describeCertificate } from '../x509/index.js';
import type { AcmeContext, AcmeReply, AuthenticatedPost } from './context.js';
import { authorizationTarget } from './identifiers.js';
import { parsePayload } from './jws.js';
import { AcmeProblemError } from './problems.js';
import { RevocationSchema } from './wire.js';

/** The reasons a subscriber may give, as Boulder allows them (RFC 5280 §5.3.1 codes). */
const SUBSCRIBER_REASONS: ReadonlyMap<number, RevocationReason> = new Map([
  [REVOCATION_REASONS.unspecified, 'unspecified'],
  [REVOCATION_REASONS.keyCompromise, 'keyCompromise'],
  [REVOCATION_REASONS.affiliationChanged, 'affiliationChanged'],
  [REVOCATION_REASONS.superseded, 'superseded'],
  [REVOCATION_REASONS.cessationOfOperation, 'cessationOfOperation'],
]);

export async function revokeCertificate(ctx: AcmeContext, post: AuthenticatedPost): Promise<AcmeReply> {
  const body = parsePayload(post.payload, RevocationSchema);
  const reason = SUBSCRIBER_REASONS.get(body.reason ?? 0);
  if (reason === undefined) {
    throw new AcmeProblemError(
      'badRevocationReason',
      `reason ${body.reason ?? 0} is not one of ${[...SUBSCRIBER_REASONS.keys()].join(', ')}`,
    );
  }
  const der = new Uint8Array(Buffer.from(body.certificate, 'base64url'));
  let serial: string;
  let publicKey: Uint8Array;
  try {
    ({ serial, publicKey } = describeCertificate(der));
  } catch {
    throw new AcmeProblemError('malformed', 'certificate is not a base64url DER X.509 certificate');
  }
  // Only the exact certificate this server issued through ACME: same serial and same bytes.
  const record = await ctx.deps.certificates.findBySerial(serial);
  if (record === undefined || !record.requester.startsWith('acme:') || !Buffer.from(record.der).equals(Buffer.from(der))) {
    throw new AcmeProblemError('malformed', 'no such certificate issued through ACME here', { status: 404 });
  }
  if (!(await isAuthorized(ctx, post, record, publicKey))) {
    throw new AcmeProblemError(
      'unauthorized',
      'the request is signed neither by the account that ordered the certificate, nor by its key, nor by an account authorized for all its names',
    );
  }
  if (record.status === 'revoked') throw new AcmeProblemError('alreadyRevoked', 'the certificate is already revoked');
  try {
    await ctx.deps.authority.revoke(record.serial, reason);
  } catch (error) {
    // A concurrent revocation won the race.
    if (isDomainError(error, 'conflict')) throw new AcmeProblemError('alreadyRevoked', 'the certificate is already revoked');
    throw error;
  }
  return { status: 200 };
}

async function isAuthorized(
  ctx: AcmeContext,
  post: AuthenticatedPost,
  record: CertificateRecord,
  certificateKey: Uint8Array,
): Promise<boolean> {
  const account = post.account;
  if (account === undefined) {
    // RFC 8555 §7.6: signed with the certificate's own key.
    const signer = post.key.key.export({ type: 'spki', format: 'der' });
    return signer.equals(Buffer.from(certificateKey));
  }
  if (record.requester === `acme:${account.id}`) return true;
  // Or an account that currently holds valid authorizations for every name in it.
  const now = ctx.deps.clock.now();
  const names = record.sans.filter((san) => san.type === 'dns' || san.type === 'ip');
  if (names.length === 0) return false;
  for (const san of names) {
    const target = authorizationTarget({ type: san.type === 'ip' ? 'ip' : 'dns', value: san.value });
    if (
      (await ctx.deps.store.authorizations.findReusableAuthorization(account.id, target.identifier, target.isWildcard, now)) === undefined
    )
      return false;
  }
  return true;
}
