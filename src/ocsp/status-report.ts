import type { Awaitable } from '../shared/awaitable.js';
import { DomainError } from '../shared/errors.js';
import type { RevocationReason } from '../domain/certificates.js';
import { describeCertificate, describeOcspResponse } from '../x509/index.js';
import { requestForCertificate } from './request.js';
import type { OcspReply } from './responder.js';

/**
 * What the OCSP responder says about one certificate right now, read back
 * from a real signed response (GET /v1/certificates/:serial/ocsp): the
 * request is built as a relying party would build it (RFC 6960 §4.1.1, SHA-1
 * CertID, no nonce, so it shares the responder's cache with /ocsp), answered
 * through the same OcspResponder as /ocsp, and the signed response is decoded.
 */
export interface OcspStatusReport {
  readonly certStatus: 'good' | 'revoked' | 'unknown';
  readonly revokedAt: number | null;
  readonly reason: RevocationReason | null;
  readonly producedAt: number;
  readonly thisUpdate: number;
  readonly nextUpdate: number | null;
  /** The subject of the certificate that signed the response: the delegated responder, or the CA itself. */
  readonly responder: string;
}

export interface OcspAnswerer {
  answer(der: Uint8Array): Awaitable<OcspReply>;
}

/**
 * Asks `responder` about `certificateDer`, whose issuer is among `issuers`
 * (matched by key identifier, else by name). DomainError 'unavailable' when the
 * responder says tryLater, 'notFound' when it does not know the issuer; an
 * internalError is a plain Error (the responder logged nothing: the caller does).
 */
export async function reportOcspStatus(
  responder: OcspAnswerer,
  certificateDer: Uint8Array,
  issuers: readonly Uint8Array[],
): Promise<OcspStatusReport> {
  const issuerDer = issuerOf(certificateDer, issuers);
  const reply = await responder.answer(requestForCertificate(certificateDer, issuerDer));
  if (reply.status === 'tryLater') throw new DomainError('unavailable', 'the OCSP responder cannot answer right now');
  if (reply.status === 'unauthorized') throw new DomainError('notFound', 'the OCSP responder does not answer for this certificate');
  if (reply.status !== 'successful') throw new Error(`the OCSP responder answered ${reply.status}`, { cause: reply.fault });
  const basic = describeOcspResponse(reply.der).basic;
  const single = basic?.responses[0];
  if (basic === undefined || single === undefined) throw new Error('the OCSP responder answered without a SingleResponse');
  const signer = basic.certificates[0] ?? issuerDer;
  const status = single.status;
  return {
    certStatus: status.kind,
    revokedAt: status.kind === 'revoked' ? status.revokedAt : null,
    reason: status.kind === 'revoked' ? status.reason : null,
    producedAt: basic.producedAt,
    thisUpdate: single.thisUpdate,
    nextUpdate: single.nextUpdate,
    responder: describeCertificate(signer).subject,
  };
}

/** The issuing CA certificate among `issuers`: by AKI = SKI (RFC 5280 §4.2.1.1), else by issuer name = subject. */
function issuerOf(certificateDer: Uint8Array, issuers: readonly Uint8Array[]): Uint8Array {
  const leaf = describeCertificate(certificateDer);
  const described = issuers.map((der) => ({ der, description: describeCertificate(der) }));
  const byKey =
    leaf.authorityKeyId === null ? undefined : described.find(({ description }) => description.subjectKeyId === leaf.authorityKeyId);
  const byName = described.find(({ description }) => description.subject === leaf.issuer);
  const found = byKey ?? byName;
  if (found === undefined) throw new DomainError('notFound', 'the certificate’s issuer is not a CA this service holds');
  return found.der;
}
