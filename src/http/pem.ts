/**
 * PEM on the way out (DESIGN: DER is stored, PEM is made on the way out),
 * and the issuer chain of a ledger certificate from the trust bundle.
 * node:crypto's X509Certificate is used only to match issuers.
 */
import { X509Certificate } from 'node:crypto';
import { toPem } from '../pkix/index.js';

function isSelfIssued(cert: X509Certificate): boolean {
  return cert.subject === cert.issuer && cert.checkIssued(cert);
}

/**
 * RFC 8555 §9.1 application/pem-certificate-chain: the certificate, then
 * each issuer found among the authorities up to (not including) the
 * self-signed root, which clients already hold.
 */
export function pemCertificateChain(der: Uint8Array, authorities: readonly Uint8Array[]): string {
  const candidates = authorities.map((a) => new X509Certificate(a));
  let current = new X509Certificate(der);
  let out = toPem(der);
  // A chain is never longer than the bundle; the bound also stops a loop in a malformed bundle.
  for (let depth = 0; depth < candidates.length && !isSelfIssued(current); depth++) {
    const subject = current;
    const issuer = candidates.find((c) => subject.checkIssued(c) && subject.verify(c.publicKey));
    if (issuer === undefined || isSelfIssued(issuer)) break;
    out += toPem(issuer.raw);
    current = issuer;
  }
  return out;
}
