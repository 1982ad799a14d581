import { AsnConvert } from '@peculiar/asn1-schema';
import * as asn from '@peculiar/asn1-x509';
import { DerError, readSingle, Tag } from '../pkix/index.js';
import { ipToOctets, normalizeIpAddress } from './names.js';

/*
 * The id-pe-acmeIdentifier extension of RFC 8737 §3 (tls-alpn-01):
 *
 *   id-pe-acmeIdentifier OBJECT IDENTIFIER ::= { id-pe 31 }
 *   Authorization ::= OCTET STRING (SIZE (32))
 *
 * The extension's extnValue holds the DER of Authorization, i.e. exactly
 * 04 20 followed by SHA-256 of the key authorization.
 */

export const ACME_IDENTIFIER_OID = '1.3.6.1.5.5.7.1.31';

/** A certificate presented by a tls-alpn-01 responder can be small; this bounds parsing of hostile input. */
const MAX_CERTIFICATE_BYTES = 64 * 1024;
const SHA256_BYTES = 32;

export interface AcmeIdentifierExtension {
  readonly isCritical: boolean;
  /** The 32 octets of Authorization; undefined when extnValue is not exactly a DER OCTET STRING of 32 octets. */
  readonly digest: Uint8Array | undefined;
}

/** One subjectAltName entry as the validator compares it; other GeneralName forms are reported as 'other'. */
export interface ResponderAltName {
  readonly type: 'dns' | 'ip' | 'other';
  /** Lowercase DNS name, canonical IP text, or a short description for 'other'. */
  readonly value: string;
}

/** What tls-alpn-01 needs from the responder's certificate (RFC 8737 §3), parsed without any trust decision. */
export interface TlsAlpnCertificateFacts {
  /** Every GeneralName of every subjectAltName extension, in order. */
  readonly altNames: readonly ResponderAltName[];
  readonly subjectAltNameExtensions: number;
  /** Every id-pe-acmeIdentifier extension, in order (RFC 5280 §4.2 allows one; a second is the caller's refusal to make). */
  readonly acmeIdentifiers: readonly AcmeIdentifierExtension[];
}

export class TlsAlpnCertificateError extends Error {
  constructor(detail: string, options?: { cause: unknown }) {
    super(detail, options);
    this.name = 'TlsAlpnCertificateError';
  }
}

/** Parses the responder's leaf certificate. Throws TlsAlpnCertificateError when it does not decode. */
export function readTlsAlpnCertificate(der: Uint8Array): TlsAlpnCertificateFacts {
  if (der.byteLength === 0 || der.byteLength > MAX_CERTIFICATE_BYTES) {
    throw new TlsAlpnCertificateError(`certificate must be 1 to ${MAX_CERTIFICATE_BYTES} bytes`);
  }
  let certificate: asn.Certificate;
  try {
    certificate = AsnConvert.parse(der, asn.Certificate);
  } catch (cause) {
    throw new TlsAlpnCertificateError('certificate does not decode as X.509', { cause });
  }
  const altNames: ResponderAltName[] = [];
  const acmeIdentifiers: AcmeIdentifierExtension[] = [];
  let subjectAltNameExtensions = 0;
  for (const extension of certificate.tbsCertificate.extensions ?? []) {
    const value = new Uint8Array(extension.extnValue.buffer);
    if (extension.extnID === asn.id_ce_subjectAltName) {
      subjectAltNameExtensions++;
      altNames.push(...readAltNames(value));
    } else if (extension.extnID === ACME_IDENTIFIER_OID) {
      acmeIdentifiers.push({ isCritical: extension.critical, digest: readAuthorization(value) });
    }
  }
  return { altNames, subjectAltNameExtensions, acmeIdentifiers };
}

function readAltNames(value: Uint8Array): ResponderAltName[] {
  let names: asn.SubjectAlternativeName;
  try {
    names = AsnConvert.parse(value, asn.SubjectAlternativeName);
  } catch (cause) {
    throw new TlsAlpnCertificateError('subjectAltName extension does not decode', { cause });
  }
  return names.map((name): ResponderAltName => {
    if (name.dNSName !== undefined) return { type: 'dns', value: name.dNSName.toLowerCase() };
    if (name.iPAddress !== undefined) {
      try {
        return { type: 'ip', value: normalizeIpAddress(name.iPAddress) };
      } catch {
        return { type: 'other', value: 'a malformed iPAddress' };
      }
    }
    return { type: 'other', value: 'a GeneralName other than dNSName or iPAddress' };
  });
}

/** DER of Authorization ::= OCTET STRING (SIZE (32)) (RFC 8737 §3), one TLV and nothing after (X.690 §8.7, §10.1). */
function readAuthorization(value: Uint8Array): Uint8Array | undefined {
  let digest: Uint8Array;
  try {
    digest = readSingle(value, Tag.octetString, 'Authorization').content;
  } catch (cause) {
    if (cause instanceof DerError) return undefined;
    throw cause;
  }
  return digest.byteLength === SHA256_BYTES ? new Uint8Array(digest) : undefined;
}

/** RFC 8738 §6: the reverse-mapping name of an IP identifier, used as SNI for tls-alpn-01. */
export function reverseDnsName(ip: string): string {
  const octets = ipToOctets(ip);
  if (octets.byteLength === 4) return `${[...octets].reverse().join('.')}.in-addr.arpa`;
  const nibbles: string[] = [];
  for (const octet of octets) nibbles.push((octet >> 4).toString(16), (octet & 0x0f).toString(16));
  return `${nibbles.reverse().join('.')}.ip6.arpa`;
}
