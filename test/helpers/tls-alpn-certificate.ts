/**
 * A tls-alpn-01 responder certificate maker (RFC 8737 §3) for tests: a self-signed certificate with a
 * fresh P-256 key and the id-pe-acmeIdentifier extension. The CA never serves one itself, so it lives
 * here and not in src/x509 (which only reads these certificates, acme-identifier.ts).
 */
import { webcrypto } from 'node:crypto';
import { ACME_IDENTIFIER_OID, normalizeDnsName, normalizeIpAddress, toPem } from '../../src/x509/index.js';
import { Tag, tlv } from '../../src/pkix/index.js';
import { peculiar } from '../../src/x509/provider.js';

const DIGEST_BYTES = 32;

/** extnValue for id-pe-acmeIdentifier: the DER OCTET STRING of a 32-octet digest. */
export function encodeAcmeIdentifierValue(digest: Uint8Array): Uint8Array {
  if (digest.byteLength !== DIGEST_BYTES)
    throw new TypeError(`the acmeIdentifier digest is ${DIGEST_BYTES} octets, got ${digest.byteLength}`);
  return tlv(Tag.octetString, digest);
}

export interface TlsAlpnCertificateRequest {
  readonly identifier: { readonly type: 'dns' | 'ip'; readonly value: string };
  /** Usually SHA-256 of the key authorization; tests pass wrong ones on purpose. */
  readonly digest: Uint8Array;
  /** RFC 8737 §3 requires critical; false only to test that validators refuse it. */
  readonly isCritical?: boolean;
}

/**
 * A self-signed tls-alpn-01 responder certificate (RFC 8737 §3) with a fresh
 * P-256 key, as PEM for a TLS server. For tests.
 */
export async function createTlsAlpnCertificate(
  request: TlsAlpnCertificateRequest,
): Promise<{ readonly certPem: string; readonly keyPem: string }> {
  const { identifier } = request;
  const altName =
    identifier.type === 'dns'
      ? { type: 'dns' as const, value: normalizeDnsName(identifier.value) }
      : { type: 'ip' as const, value: normalizeIpAddress(identifier.value) };
  // Async generateKey: the JWK-export hang of generateKeyPairSync keys (PERF-NOTES) cannot apply.
  const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const now = Date.now();
  const certificate = await peculiar.X509CertificateGenerator.createSelfSigned({
    name: [{ CN: [altName.value] }],
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 7 * 24 * 3_600_000),
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: [
      new peculiar.SubjectAlternativeNameExtension([altName], false),
      new peculiar.Extension(ACME_IDENTIFIER_OID, request.isCritical ?? true, encodeAcmeIdentifierValue(request.digest)),
    ],
  });
  const pkcs8 = new Uint8Array(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return { certPem: certificate.toString('pem'), keyPem: toPem(pkcs8, 'PRIVATE KEY') };
}
