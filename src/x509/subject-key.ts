import type { KeyObject } from 'node:crypto';
import { DomainError } from '../shared/errors.js';
import { checkSpkiPolicy, type PolicyKey } from './key-policy.js';
import { importPolicyKey, KeyImportError } from './subject-key-import.js';

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

/*
 * `checkPublicKey` for the hot path: the key policy (key-policy.ts) decides
 * in our own bounded code, before node:crypto sees the key, whether a subject
 * key is acceptable. Only a CSR's signature check needs the key in
 * node:crypto (`importSubjectKey`, the cheapest path per key type:
 * subject-key-import.ts); the certificate carries the checked SPKI bytes. A
 * memo keeps a key checked while parsing a CSR from being checked again when
 * the Authority checks the same bytes.
 */

/** A checked key plus the parts the policy validated (what `importSubjectKey` imports). */
export interface CheckedSubjectKey extends CheckedPublicKey {
  readonly policyKey: PolicyKey;
}

interface Remembered {
  /** The checked bytes: a hit needs the array to still hold exactly these. */
  readonly bytes: Buffer;
  readonly algorithm: SubjectKeyAlgorithm;
  readonly policyKey: PolicyKey;
}

// Keyed by the caller's array, so entries live exactly as long as the request that holds it.
const remembered = new WeakMap<Uint8Array, Remembered>();

/**
 * Accepts what the key policy accepts (EC P-256/P-384, Ed25519, RSA
 * 2048/3072/4096 with the BR §6.1.6 checks) in DER; anything else is
 * `badCSR` (RFC 8555 §7.4) naming the rule broken. The returned `spki` is a
 * fresh copy of the checked bytes.
 */
export function checkSubjectPublicKey(spki: Uint8Array): CheckedSubjectKey {
  const hit = remembered.get(spki);
  if (hit !== undefined && hit.bytes.equals(spki)) return result(hit);

  const bytes = Buffer.from(spki);
  const verdict = checkSpkiPolicy(bytes);
  if (!verdict.ok) throw new DomainError('badCSR', verdict.problem);
  const entry: Remembered = { bytes, algorithm: algorithmOf(verdict.key), policyKey: verdict.key };
  remembered.set(spki, entry);
  const out = result(entry);
  remembered.set(out.spki, entry);
  return out;
}

/**
 * Notes that `spki` passed the key policy on a crypto worker
 * (crypto-pool/worker.ts ran `checkSubjectPublicKey` on these very bytes while
 * parsing the CSR), so the Authority's check of the same array is a memo hit
 * here as it is when the CSR was parsed on this thread.
 */
export function rememberCheckedSubjectKey(spki: Uint8Array, policyKey: PolicyKey): void {
  const bytes = Buffer.from(spki);
  remembered.set(spki, { bytes, algorithm: algorithmOf(policyKey), policyKey });
}

function result(entry: Remembered): CheckedSubjectKey {
  return { spki: new Uint8Array(entry.bytes), algorithm: entry.algorithm, policyKey: entry.policyKey };
}

function algorithmOf(key: PolicyKey): SubjectKeyAlgorithm {
  switch (key.kind) {
    case 'ec':
      return { kind: 'ec', curve: key.curve };
    case 'ed25519':
      return { kind: 'ed25519' };
    case 'rsa':
      return { kind: 'rsa', modulusLength: key.modulusLength };
    default: {
      const never: never = key;
      return never;
    }
  }
}

/** The checked key in node:crypto, to verify a CSR's signature with; node:crypto refusing it anyway is still the request's fault (`badCSR`). */
export function importSubjectKey(key: CheckedSubjectKey): KeyObject | Promise<KeyObject> {
  const refused = (cause: unknown): never => {
    if (!(cause instanceof KeyImportError)) throw cause;
    throw new DomainError('badCSR', 'public key is not a valid SubjectPublicKeyInfo', { cause });
  };
  try {
    const imported = importPolicyKey(key.policyKey);
    return imported instanceof Promise ? imported.catch(refused) : imported;
  } catch (cause) {
    return refused(cause);
  }
}
