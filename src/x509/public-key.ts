import { checkSubjectPublicKey, type CheckedPublicKey } from './subject-key.js';

export type { CheckedPublicKey, SubjectKeyAlgorithm } from './subject-key.js';

/**
 * Applies the key policy (key-policy.ts; README "Key policy"): EC P-256/P-384
 * with a validated point, Ed25519, RSA 2048/3072/4096 with an odd exponent of
 * at least 65537 and no small factor, ROCA fingerprint or close primes.
 * Anything else is `badCSR` (RFC 8555 §7.4: "the CSR is unacceptable (e.g.,
 * due to a short key)"). RSASSA-PSS-only SPKIs are refused because the TLS
 * engine signs and verifies with rsaEncryption keys only. The work is done
 * by the hot path's checker (subject-key.ts); this form drops its KeyObject.
 */
export function checkPublicKey(spki: Uint8Array): CheckedPublicKey {
  const { spki: checked, algorithm } = checkSubjectPublicKey(spki);
  return { spki: checked, algorithm };
}
