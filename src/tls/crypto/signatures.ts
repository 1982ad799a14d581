import { constants, createPrivateKey, sign, verify, type KeyObject } from 'node:crypto';
import { SignatureScheme } from '../codec/enums.js';
import type { HashName } from './suites.js';

/** Schemes we verify in CertificateVerify, in the order we offer them. rsa_pkcs1 is for certificates only. */
export const VERIFY_SCHEMES: readonly number[] = [
  SignatureScheme.ecdsa_secp256r1_sha256,
  SignatureScheme.ed25519,
  SignatureScheme.ecdsa_secp384r1_sha384,
  SignatureScheme.rsa_pss_rsae_sha256,
  SignatureScheme.rsa_pss_rsae_sha384,
  SignatureScheme.rsa_pss_rsae_sha512,
];

/** What signature_algorithms_cert may list: the above plus PKCS#1 signatures inside certificates. */
export const CERT_SCHEMES: readonly number[] = [
  ...VERIFY_SCHEMES,
  SignatureScheme.rsa_pkcs1_sha256,
  SignatureScheme.rsa_pkcs1_sha384,
  SignatureScheme.rsa_pkcs1_sha512,
];

interface SchemeInfo {
  readonly hash: HashName | 'sha512' | null;
  readonly keyType: 'ec' | 'ed25519' | 'rsa';
  readonly curve?: 'prime256v1' | 'secp384r1';
  readonly isPss: boolean;
}

const SCHEMES: ReadonlyMap<number, SchemeInfo> = new Map<number, SchemeInfo>([
  [SignatureScheme.ecdsa_secp256r1_sha256, { hash: 'sha256', keyType: 'ec', curve: 'prime256v1', isPss: false }],
  [SignatureScheme.ecdsa_secp384r1_sha384, { hash: 'sha384', keyType: 'ec', curve: 'secp384r1', isPss: false }],
  [SignatureScheme.ed25519, { hash: null, keyType: 'ed25519', isPss: false }],
  [SignatureScheme.rsa_pss_rsae_sha256, { hash: 'sha256', keyType: 'rsa', isPss: true }],
  [SignatureScheme.rsa_pss_rsae_sha384, { hash: 'sha384', keyType: 'rsa', isPss: true }],
  [SignatureScheme.rsa_pss_rsae_sha512, { hash: 'sha512', keyType: 'rsa', isPss: true }],
  // TLS 1.2 only (RFC 5246 §7.4.1.4.1): PKCS#1 v1.5 signatures in the handshake; never in TLS 1.3 (RFC 8446 §4.2.3).
  [SignatureScheme.rsa_pkcs1_sha256, { hash: 'sha256', keyType: 'rsa', isPss: false }],
  [SignatureScheme.rsa_pkcs1_sha384, { hash: 'sha384', keyType: 'rsa', isPss: false }],
  [SignatureScheme.rsa_pkcs1_sha512, { hash: 'sha512', keyType: 'rsa', isPss: false }],
]);

/**
 * Schemes we sign and verify with in TLS 1.2, in our preference order:
 * VERIFY_SCHEMES (RSA-PSS preferred for RSA keys) and then PKCS#1 v1.5,
 * which TLS 1.2 allows in the handshake. No SHA-1 (RFC 9155 §2).
 */
export const TLS12_SCHEMES: readonly number[] = [
  ...VERIFY_SCHEMES,
  SignatureScheme.rsa_pkcs1_sha256,
  SignatureScheme.rsa_pkcs1_sha384,
  SignatureScheme.rsa_pkcs1_sha512,
];

/** A private key from PEM (PKCS#8, SEC1 or PKCS#1): the key the provider signs CertificateVerify with. */
export function parsePrivateKey(pem: string): KeyObject {
  return createPrivateKey(pem);
}

/** Whether `scheme` can be used with this key (RFC 8446 §4.2.3: ECDSA schemes fix the curve). */
export function schemeFitsKey(scheme: number, key: KeyObject): boolean {
  const info = SCHEMES.get(scheme);
  if (info === undefined) return false;
  const type = key.asymmetricKeyType;
  if (info.keyType === 'ec') return type === 'ec' && key.asymmetricKeyDetails?.namedCurve === info.curve;
  return type === info.keyType;
}

/**
 * TLS 1.2 (RFC 5246 §7.4.1.4.1, RFC 8422 §5.1.3): an ECDSA SignatureAndHashAlgorithm names only the hash, so any
 * curve fits; everything else as in TLS 1.3.
 */
export function schemeFitsKey12(scheme: number, key: KeyObject): boolean {
  const info = SCHEMES.get(scheme);
  if (info === undefined || !TLS12_SCHEMES.includes(scheme)) return false;
  if (info.keyType === 'ec') return key.asymmetricKeyType === 'ec';
  return key.asymmetricKeyType === info.keyType;
}

/** The schemes a key can sign with, in our preference order. */
export function schemesForKey(key: KeyObject): number[] {
  return VERIFY_SCHEMES.filter((s) => schemeFitsKey(s, key));
}

function options(info: SchemeInfo, key: KeyObject): KeyObject | { key: KeyObject; padding: number; saltLength: number } {
  if (info.isPss) return { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST };
  return key;
}

export function signWithScheme(scheme: number, key: KeyObject, data: Buffer): Buffer {
  const info = SCHEMES.get(scheme);
  if (info === undefined) throw new RangeError(`cannot sign with scheme ${scheme}`);
  return sign(info.hash, data, options(info, key));
}

export function verifyWithScheme(scheme: number, key: KeyObject, data: Buffer, signature: Buffer): boolean {
  const info = SCHEMES.get(scheme);
  if (info === undefined) return false;
  try {
    return verify(info.hash, data, options(info, key), signature);
  } catch {
    return false;
  }
}

const SERVER_CONTEXT = Buffer.from('TLS 1.3, server CertificateVerify\0', 'latin1');
const CLIENT_CONTEXT = Buffer.from('TLS 1.3, client CertificateVerify\0', 'latin1');
const PAD = Buffer.alloc(64, 0x20);

/** The content a CertificateVerify signs (RFC 8446 §4.4.3). */
export function certificateVerifyContent(signer: 'server' | 'client', transcriptHash: Buffer): Buffer {
  return Buffer.concat([PAD, signer === 'server' ? SERVER_CONTEXT : CLIENT_CONTEXT, transcriptHash]);
}
