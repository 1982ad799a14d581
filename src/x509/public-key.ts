import { createPublicKey, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { DomainError } from '../shared/errors.js';


/** The subject key types keysmith certifies. */
export type SubjectKeyAlgorithm =
  | { readonly kind: 'ec'; readonly curve: 'P-256' | 'P-384' }
  | { readonly kind: 'ed25519' }
  | { readonly kind: 'rsa'; readonly modulusLength: number };

export interface CheckedPublicKey {
  /** The DER SubjectPublicKeyInfo (checked to be DER): what goes into the certificate. */
  readonly spki: Uint8Array;
  readonly algorithm: SubjectKeyAlgorithm;
}

// Large enough for an RSA-8192 SPKI (~1.1 KB); bounds work on hostile input.
const MAX_SPKI_BYTES = 4096;
const RSA_MIN_BITS = 2048;
const RSA_MAX_BITS = 8192;

/**
 * Accepts EC P-256/P-384, Ed25519 and RSA (rsaEncryption, 2048 to 8192 bits);
 * anything else is `badCSR` (RFC 8555 §7.4: "the CSR is unacceptable (e.g.,
 * due to a short key)"). RSASSA-PSS-only SPKIs are refused because the TLS
 * engine signs and verifies with rsaEncryption keys only.
 */
export function checkPublicKey(spki: Uint8Array): CheckedPublicKey {
  if (spki.byteLength === 0 || spki.byteLength > MAX_SPKI_BYTES) {
    throw new DomainError('badCSR', `public key must be a DER SubjectPublicKeyInfo of at most ${MAX_SPKI_BYTES} bytes`);
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(spki.buffer, spki.byteOffset, spki.byteLength), format: 'der', type: 'spki' });
  } catch (cause) {
    throw new DomainError('badCSR', 'public key is not a valid SubjectPublicKeyInfo', { cause });
  }
  const algorithm = classify(key);
  // The certificate carries these bytes re-encoded by the schema; they must come out the same
  // (OpenSSL also takes BER forms and trailing bytes, which would not survive the round trip).
  let reencoded: ArrayBuffer;
  try {
    reencoded = AsnConvert.serialize(AsnConvert.parse(spki, SubjectPublicKeyInfo));
  } catch (cause) {
    throw new DomainError('badCSR', 'public key is not a valid SubjectPublicKeyInfo', { cause });
  }
  if (!Buffer.from(reencoded).equals(Buffer.from(spki.buffer, spki.byteOffset, spki.byteLength))) {
    throw new DomainError('badCSR', 'public key is not DER-encoded (or has trailing bytes)');
  }
  return { spki: new Uint8Array(reencoded), algorithm };
}

function classify(key: KeyObject): SubjectKeyAlgorithm {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'ec':
      if (details.namedCurve === 'prime256v1') return { kind: 'ec', curve: 'P-256' };
      if (details.namedCurve === 'secp384r1') return { kind: 'ec', curve: 'P-384' };
      throw new DomainError('badCSR', `EC curve ${details.namedCurve ?? 'unknown'} is not accepted (P-256 or P-384)`);
    case 'ed25519':
      return { kind: 'ed25519' };
    case 'rsa': {
      const bits = details.modulusLength ?? 0;
      if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS) {
        throw new DomainError('badCSR', `RSA key of ${bits} bits is not accepted (${RSA_MIN_BITS} to ${RSA_MAX_BITS})`);
      }
      return { kind: 'rsa', modulusLength: bits };
    }
    default:
      throw new DomainError('badCSR', `key type ${key.asymmetricKeyType ?? 'unknown'} is not accepted (EC P-256/P-384, Ed25519 or RSA >= ${RSA_MIN_BITS})`);
  }
}
