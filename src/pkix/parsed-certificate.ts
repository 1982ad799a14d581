/**
 * A certificate parsed once, without any trust decision: our strict DER
 * decode, node:crypto's X509Certificate for signatures and text, the key
 * screened before node:crypto may load it, and the frozen view handed to
 * callers. Shared through the caches, so nothing here is ever mutated.
 */
import { createHash, X509Certificate, type KeyObject } from 'node:crypto';
import { checkEcPoint, curveByOid } from '../shared/ec-point.js';
import { decodeCertificate, KeyOid, type CertificateFields, type PublicKeyInfo } from './certificate.js';
import { DerError } from './der-reader.js';
import { refuse } from './errors.js';
import { formatIpAddress } from './ip.js';

/** One certificate as callers see it (the TLS engine's peerCertificates, verifyPeer's input). */
export interface PeerCertificate {
  /** DER bytes. */
  readonly raw: Uint8Array;
  readonly subject: string;
  readonly issuer: string;
  /** Lowercase hex, no separators, no leading zero octet. */
  readonly serialNumber: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** SHA-256 of the DER, lowercase hex. */
  readonly fingerprint256: string;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  readonly uris: readonly string[];
  readonly isCA: boolean;
}

/** A verified chain as callers see it. */
export interface PeerCertificates {
  /** Verified chain, leaf first, ending at the trust anchor. */
  readonly chain: readonly PeerCertificate[];
  readonly leaf: PeerCertificate;
}

/** Leaf keys a TLS 1.3 CertificateVerify can be checked with. */
export type LeafKeyType = 'ecdsa-p256' | 'ecdsa-p384' | 'ed25519' | 'rsa';

export interface ParsedCertificate {
  readonly der: Buffer;
  readonly fields: CertificateFields;
  readonly x509: X509Certificate;
  /** Undefined when node:crypto cannot (or may not) load the key. */
  readonly publicKey: KeyObject | undefined;
  /** Undefined when the key is not usable as a TLS 1.3 leaf key; `keyDescription` says what it is. */
  readonly leafKeyType: LeafKeyType | undefined;
  readonly keyDescription: string;
  readonly isCA: boolean;
  /** Subject and issuer Names are equal (RFC 5280 §6.1: such certificates skip some counts). */
  readonly isSelfIssued: boolean;
  /** The subject on one line, for log and alert reasons. */
  readonly label: string;
  readonly view: PeerCertificate;
}

export const MIN_RSA_BITS = 2048;
/** Bounds the cost of one RSA verify a peer can make us pay (Go's crypto/tls uses the same cap). */
export const MAX_RSA_BITS = 8192;

const CURVE_NAMES: ReadonlyMap<string, string> = new Map([
  [KeyOid.prime256v1, 'P-256'],
  [KeyOid.secp384r1, 'P-384'],
  ['1.3.132.0.35', 'secp521r1'],
  ['1.3.132.0.10', 'secp256k1'],
]);

/** Key kind from the SPKI DER; KeyObject only tells whether node:crypto could load it. */
function describeKey(info: PublicKeyInfo, key: KeyObject | undefined): { type: LeafKeyType | undefined; description: string } {
  if (key === undefined) return { type: undefined, description: `unreadable ${info.algorithm} key` };
  switch (info.algorithm) {
    case KeyOid.ecPublicKey: {
      const curve = info.namedCurve;
      const type = curve === KeyOid.prime256v1 ? 'ecdsa-p256' : curve === KeyOid.secp384r1 ? 'ecdsa-p384' : undefined;
      return { type, description: `EC ${curve === undefined ? 'explicit curve' : (CURVE_NAMES.get(curve) ?? curve)}` };
    }
    case KeyOid.ed25519:
      return { type: 'ed25519', description: 'Ed25519' };
    case KeyOid.rsaEncryption: {
      const bits = info.rsaModulusBits ?? 0;
      return { type: bits >= MIN_RSA_BITS && bits <= MAX_RSA_BITS ? 'rsa' : undefined, description: `RSA ${bits} bits` };
    }
    default:
      return { type: undefined, description: `key algorithm ${info.algorithm}` };
  }
}

/**
 * Whether node:crypto may load this certificate's key. Some malformed keys
 * abort Node natively once loaded (an EC point at infinity: reading its
 * details fails an assertion in crypto_ec.cc), and no try/catch stops that;
 * so EC points are validated here first (SP 800-56A Rev. 3 §5.6.2.3.3 partial
 * validation, src/shared/ec-point.ts), and a malformed EC or EdDSA key makes
 * the certificate malformed (bad_certificate). Keys we cannot check (other
 * curves, explicit parameters, other algorithms, RSA past the cost bound)
 * are never loaded: the chain and leaf checks then refuse them.
 */
function screenPublicKey(info: PublicKeyInfo): boolean {
  switch (info.algorithm) {
    case KeyOid.ecPublicKey: {
      const curve = info.namedCurve === undefined ? undefined : curveByOid(info.namedCurve);
      if (curve === undefined) return false;
      const verdict = checkEcPoint(curve, info.keyOctets);
      if (!verdict.ok) throw new DerError(verdict.problem);
      return true;
    }
    case KeyOid.ed25519:
    case KeyOid.ed448: {
      // RFC 8410 §4: 32 octets for Ed25519, 57 for Ed448.
      const length = info.algorithm === KeyOid.ed25519 ? 32 : 57;
      if (info.keyOctets.length !== length) {
        throw new DerError(`EdDSA public key is ${info.keyOctets.length} octets, not ${length} (RFC 8410 §4)`);
      }
      return true;
    }
    case KeyOid.rsaEncryption:
      return info.isRsaPositive === true && (info.rsaModulusBits ?? 0) <= MAX_RSA_BITS;
    default:
      return false;
  }
}

function serialHex(serial: Buffer): string {
  let start = 0;
  // The public form drops DER's 00 sign octet (and any other leading zero octets).
  while (start < serial.length - 1 && serial[start] === 0) start++;
  return serial.subarray(start).toString('hex');
}

function loadKey(fields: CertificateFields, x509: X509Certificate): KeyObject | undefined {
  try {
    // Only keys our own checks passed reach node:crypto (screenPublicKey throws DerError for malformed ones).
    return screenPublicKey(fields.publicKey) ? x509.publicKey : undefined;
  } catch (error) {
    if (error instanceof DerError) throw error;
    // An unloadable key is still describable; the checks that need it refuse it.
    return undefined;
  }
}

function buildView(der: Buffer, fields: CertificateFields, x509: X509Certificate): PeerCertificate {
  const san = fields.extensions.subjectAltName;
  return Object.freeze({
    // Its own copy: `fields` points into `der`, and callers get `raw` to keep.
    raw: new Uint8Array(der),
    subject: x509.subject,
    issuer: x509.issuer,
    serialNumber: serialHex(fields.serialNumber),
    notBefore: new Date(fields.notBeforeMs),
    notAfter: new Date(fields.notAfterMs),
    fingerprint256: createHash('sha256').update(der).digest('hex'),
    dnsNames: Object.freeze([...(san?.dnsNames ?? [])]),
    ipAddresses: Object.freeze((san?.ipAddresses ?? []).map((ip) => formatIpAddress(ip) ?? ip.toString('hex'))),
    uris: Object.freeze([...(san?.uris ?? [])]),
    isCA: fields.extensions.basicConstraints?.isCA ?? false,
  });
}

function buildParsed(der: Buffer): ParsedCertificate {
  // Our decoder runs first: it is bounded and strict, and rejects PEM or trailing bytes X509Certificate would take.
  const fields = decodeCertificate(der);
  const x509 = new X509Certificate(der);
  const publicKey = loadKey(fields, x509);
  const key = describeKey(fields.publicKey, publicKey);
  const view = buildView(der, fields, x509);
  return Object.freeze({
    der,
    fields,
    x509,
    publicKey,
    leafKeyType: key.type,
    keyDescription: key.description,
    isCA: view.isCA,
    isSelfIssued: fields.subject.der.equals(fields.issuer.der),
    label: view.subject.replace(/\n/g, ', '),
    view,
  });
}

/** Parses `input` (copied first: the caller may reuse its buffer). Throws CertificateError(bad_certificate). */
export function parseCertificate(input: Uint8Array): ParsedCertificate {
  const der = Buffer.from(input);
  try {
    return buildParsed(der);
  } catch (error) {
    const reason = error instanceof DerError ? error.message : 'node:crypto could not parse it';
    throw refuse('bad_certificate', `malformed certificate: ${reason}`, error);
  }
}
