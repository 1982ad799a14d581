import { checkSubjectPublicKey } from './subject-key.js';

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

/**
 * Accepts EC P-256/P-384, Ed25519 and RSA (rsaEncryption, 2048 to 8192 bits)
 * in DER; anything else is `badCSR` (RFC 8555 §7.4: "the CSR is unacceptable
 * (e.g., due to a short key)"). RSASSA-PSS-only SPKIs are refused because the
 * TLS engine signs and verifies with rsaEncryption keys only. The work is
 * done by the hot path's checker (subject-key.ts); this form drops its KeyObject.
 */
export function checkPublicKey(spki: Uint8Array): CheckedPublicKey {
  const { spki: checked, algorithm } = checkSubjectPublicKey(spki);
  return { spki: checked, algorithm };
}
