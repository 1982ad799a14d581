import { createHash } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import * as ocsp from '@peculiar/asn1-ocsp';
import * as asn from '@peculiar/asn1-x509';
import { DomainError } from '../shared/errors.js';
import type { RevocationReason } from '../domain/certificates.js';
import type { IssuerCurve } from './certificate.js';
import { checkStrictDer, DerError, DerReader } from '../pkix/index.js';
import { normalizeSerial } from './serial.js';

/*
 * OCSP messages (RFC 6960) on the @peculiar/asn1-ocsp schemas: the types and
 * codec helpers the OCSP modules share, and requests (decoded and encoded)
 * here; responses are encoded in ocsp-response-encoder.ts and read back in
 * ocsp-response-reader.ts. No protocol policy lives in these files
 * (which nonce lengths are allowed, which issuer is ours, what to cache): that
 * is src/ocsp. Signing keys stay in src/ca, which hands in a `sign` function.
 */

/** RFC 6960 §4.2.1 OCSPResponseStatus. */
export const OcspResponseStatus = {
  successful: 0,
  malformedRequest: 1,
  internalError: 2,
  tryLater: 3,
  sigRequired: 5,
  unauthorized: 6,
} as const;
export type OcspResponseStatusName = keyof typeof OcspResponseStatus;

/** The CertID hash algorithms keysmith answers for: SHA-1 (RFC 5019 clients) and SHA-256 (RFC 9654 era clients). */
export type CertIdHash = 'sha1' | 'sha256';

const HASH_OIDS: Readonly<Record<CertIdHash, string>> = {
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
};
export const HASH_BY_OID: ReadonlyMap<string, CertIdHash> = new Map([
  [HASH_OIDS.sha1, 'sha1'],
  [HASH_OIDS.sha256, 'sha256'],
]);

/** One CertID of a request (RFC 6960 §4.1.1). */
export interface OcspCertId {
  /** 'sha1' or 'sha256', or the dotted OID of any other hash. */
  readonly hashAlgorithm: string;
  readonly issuerNameHash: Uint8Array;
  readonly issuerKeyHash: Uint8Array;
  /** Lowercase hex as the ledger stores serials; null when the INTEGER is no positive serial of at most 20 octets (RFC 5280 §4.1.2.2). */
  readonly serial: string | null;
  /** The CertID re-encoded as DER: echoed in the SingleResponse, and a stable cache key. */
  readonly der: Uint8Array;
}

export interface DecodedOcspRequest {
  readonly certIds: readonly OcspCertId[];
  /** The octets of the RFC 9654 nonce (possibly empty), or undefined when the request has none. */
  readonly nonce: Uint8Array | undefined;
}

/** The hashes a CertID carries for one issuer (RFC 6960 §4.1.1). */
export interface IssuerHashes {
  readonly nameHash: Uint8Array;
  readonly keyHash: Uint8Array;
}

export type OcspCertStatus =
  | { readonly kind: 'good' }
  | { readonly kind: 'revoked'; readonly revokedAt: number; readonly reason: RevocationReason | null }
  | { readonly kind: 'unknown' };

export interface OcspSingleResponse {
  /** DER CertID exactly as decoded from the request (OcspCertId.der). */
  readonly certId: Uint8Array;
  readonly status: OcspCertStatus;
  /** ms since the epoch; written as whole seconds. */
  readonly thisUpdate: number;
  readonly nextUpdate: number;
}

export interface OcspResponseContent {
  readonly producedAt: number;
  readonly responses: readonly OcspSingleResponse[];
  /** RFC 9654: echoed in responseExtensions when the request carried one. */
  readonly nonce?: Uint8Array;
}

/** The delegated responder as the encoder needs it; src/ca holds the key behind `sign`. */
export interface OcspSigningIdentity {
  /** DER of the responder certificate, included in every response (RFC 6960 §4.2.2.2). */
  readonly certificateDer: Uint8Array;
  /** SHA-1 of the responder's subjectPublicKey: ResponderID byKey (RFC 6960 §4.2.1, RFC 5019 §2.2.3). */
  readonly keyHash: Uint8Array;
  readonly curve: IssuerCurve;
  /** DER ECDSA-Sig-Value over `tbs`, hashed as SIGNATURE[curve] says. */
  sign(tbs: Uint8Array): Uint8Array;
}

// ---------------------------------------------------------------- helpers (shared by ocsp-response-*.ts)

/**
 * The outermost TLV must account for every byte: asn1-schema ignores
 * trailing data, and a value with bytes after its end is not one value
 * (X.690 §8.1.3, §10.1: definite, minimal lengths only).
 */
export function checkSingleTlv(der: Uint8Array, what: string): void {
  try {
    const reader = DerReader.of(der);
    reader.read(what);
    reader.expectEnd(what);
  } catch (cause) {
    if (!(cause instanceof DerError)) throw cause;
    throw new DomainError('malformed', `${what}: not one DER value (bad length or trailing bytes)`, { cause });
  }
}

export function bytes(buffer: ArrayBuffer | ArrayBufferView): Uint8Array {
  return buffer instanceof ArrayBuffer ? new Uint8Array(buffer) : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

export function serialize(value: unknown): Uint8Array {
  return new Uint8Array(AsnConvert.serialize(value));
}

/** RFC 5280 §4.1.2.2 serial from the INTEGER's content octets; null for zero, negative or over-long values. */
export function serialOf(content: Uint8Array): string | null {
  if (content.byteLength === 0 || ((content[0] ?? 0) & 0x80) !== 0) return null;
  try {
    return normalizeSerial(Buffer.from(content).toString('hex'));
  } catch {
    return null;
  }
}

/** GeneralizedTime has no place for milliseconds in our responses: whole seconds, rounded down. */
export function wholeSeconds(ms: number): Date {
  return new Date(Math.floor(ms / 1000) * 1000);
}

// ---------------------------------------------------------------- requests

/**
 * The schema object behind each CertID `der` this module handed out, so a
 * response about it need not parse it again (a third of the cost of a
 * response signed per request). Keyed weakly: it lives as long as the bytes.
 */
export const parsedCertIds = new WeakMap<Uint8Array, ocsp.CertID>();

/** Decodes an OCSPRequest (RFC 6960 §4.1.1); DomainError('malformed') for anything that is not one. */
/** An OCSPRequest with a signature and a certificate chain nests about 15 levels deep; 32 CertIDs and a chain fit in far fewer elements. */
const OCSP_REQUEST_LIMITS = { maxDepth: 24, maxElements: 4_096 } as const;

export function decodeOcspRequest(der: Uint8Array): DecodedOcspRequest {
  // RFC 6960 §4.1.1 requests are DER; the schema parser accepts BER, so the whole tree is checked first.
  try {
    checkStrictDer(der, 'OCSPRequest', OCSP_REQUEST_LIMITS);
  } catch (cause) {
    if (cause instanceof DerError) throw new DomainError('malformed', `not a DER OCSPRequest: ${cause.message}`, { cause });
    throw cause;
  }
  let request: ocsp.OCSPRequest;
  try {
    request = AsnConvert.parse(der, ocsp.OCSPRequest);
  } catch (cause) {
    throw new DomainError('malformed', 'not a DER OCSPRequest', { cause });
  }
  const tbs = request.tbsRequest;
  // RFC 6960 §4.1.1: requestList is SEQUENCE OF Request; a request that asks about nothing is not answerable.
  if (tbs.requestList.length === 0) throw new DomainError('malformed', 'the OCSPRequest names no certificate');
  const certIds = tbs.requestList.map((entry): OcspCertId => {
    const id = entry.reqCert;
    const certIdDer = serialize(id);
    parsedCertIds.set(certIdDer, id);
    return {
      hashAlgorithm: HASH_BY_OID.get(id.hashAlgorithm.algorithm) ?? id.hashAlgorithm.algorithm,
      issuerNameHash: bytes(id.issuerNameHash.buffer),
      issuerKeyHash: bytes(id.issuerKeyHash.buffer),
      serial: serialOf(bytes(id.serialNumber)),
      der: certIdDer,
    };
  });
  const nonces = (tbs.requestExtensions ?? []).filter((e) => e.extnID === ocsp.id_pkix_ocsp_nonce);
  if (nonces.length > 1) throw new DomainError('malformed', 'the OCSPRequest carries more than one nonce');
  const [nonceExtension] = nonces;
  return { certIds, nonce: nonceExtension === undefined ? undefined : decodeNonce(bytes(nonceExtension.extnValue.buffer)) };
}

/** RFC 9654 §2.1: the extension value is the DER of Nonce ::= OCTET STRING. */
export function decodeNonce(extnValue: Uint8Array): Uint8Array {
  checkSingleTlv(extnValue, 'nonce');
  if (extnValue[0] !== 0x04) throw new DomainError('malformed', 'the nonce is not an OCTET STRING');
  try {
    return bytes(AsnConvert.parse(extnValue, ocsp.Nonce).buffer);
  } catch (cause) {
    throw new DomainError('malformed', 'the nonce is not an OCTET STRING', { cause });
  }
}

/** The CertID hashes of an issuer certificate: its subject Name and its subjectPublicKey bits (RFC 6960 §4.1.1). */
export function ocspIssuerHashes(issuerCertDer: Uint8Array, hash: CertIdHash): IssuerHashes {
  const tbs = AsnConvert.parse(issuerCertDer, asn.Certificate).tbsCertificate;
  return {
    nameHash: new Uint8Array(createHash(hash).update(serialize(tbs.subject)).digest()),
    keyHash: new Uint8Array(createHash(hash).update(bytes(tbs.subjectPublicKeyInfo.subjectPublicKey)).digest()),
  };
}

/** SHA-1 of a certificate's subjectPublicKey bits: the ResponderID byKey of a responder with that certificate. */
export function responderKeyHash(certDer: Uint8Array): Uint8Array {
  return ocspIssuerHashes(certDer, 'sha1').keyHash;
}

export interface OcspRequestTarget {
  readonly certificateDer: Uint8Array;
  readonly issuerDer: Uint8Array;
  readonly hash?: CertIdHash;
}

/** Encodes an unsigned OCSPRequest (tests, benchmarks, and clients that want a staple). */
export function encodeOcspRequest(targets: readonly OcspRequestTarget[], nonce?: Uint8Array): Uint8Array {
  const requestList = targets.map((target) => {
    const hash = target.hash ?? 'sha1';
    const issuer = ocspIssuerHashes(target.issuerDer, hash);
    const serialNumber = AsnConvert.parse(target.certificateDer, asn.Certificate).tbsCertificate.serialNumber;
    return new ocsp.Request({
      reqCert: new ocsp.CertID({
        hashAlgorithm: new asn.AlgorithmIdentifier({ algorithm: HASH_OIDS[hash], parameters: null }),
        issuerNameHash: new OctetString(issuer.nameHash),
        issuerKeyHash: new OctetString(issuer.keyHash),
        serialNumber,
      }),
    });
  });
  const requestExtensions = nonce === undefined ? undefined : [nonceExtension(nonce)];
  const tbsRequest = new ocsp.TBSRequest({ requestList, ...(requestExtensions === undefined ? {} : { requestExtensions }) });
  return serialize(new ocsp.OCSPRequest({ tbsRequest }));
}

export function nonceExtension(nonce: Uint8Array): asn.Extension {
  return new asn.Extension({
    extnID: ocsp.id_pkix_ocsp_nonce,
    critical: false,
    extnValue: new OctetString(serialize(new OctetString(nonce))),
  });
}
