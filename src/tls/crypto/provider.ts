import { TlsAlertError } from '../alert.js';
import { NamedGroup } from '../codec/enums.js';
import type { KeyObject } from 'node:crypto';
import { EcdhExchange, isEcdhGroup } from './ecdh.js';
import { FfdheExchange, isFfdheGroup } from './ffdhe.js';
import type { AeadName, HashName } from './suites.js';
import { XdhExchange } from './xdh.js';

export { EcdhExchange } from './ecdh.js';
import type { KeyExchange } from './key-exchange.js';
export type { KeyExchange } from './key-exchange.js';

/** A hash being fed incrementally: the transcript (RFC 8446 §4.4.1). node:crypto's Hash is one. */
export interface RunningHash {
  update(data: Uint8Array): unknown;
  /** An independent copy of the state so far: a transcript hash is taken without ending the transcript. */
  copy(): RunningHash;
  digest(): Buffer;
}

/**
 * One AEAD encryption (RFC 5116) under one key and nonce: AAD first, then
 * the plaintext in one or more pieces, then the tag. Several update() calls
 * let the record layer encrypt content and its type byte without joining
 * them. node:crypto's CipherGCM is one.
 */
export interface AeadSealer {
  setAAD(aad: Uint8Array): unknown;
  update(data: Uint8Array): Buffer;
  final(): Buffer;
  getAuthTag(): Buffer;
}

/** One AEAD decryption; final() throws when the tag does not verify. node:crypto's DecipherGCM is one. */
export interface AeadOpener {
  setAAD(aad: Uint8Array): unknown;
  setAuthTag(tag: Uint8Array): unknown;
  update(data: Uint8Array): Buffer;
  final(): Buffer;
}

/** A private key the provider signs with (node:crypto's KeyObject for the default provider). */
export type PrivateKey = KeyObject;
/** A peer's public key from its verified certificate. */
export type PublicKey = KeyObject;

/**
 * Every cryptographic primitive the engine uses, after rustls' CryptoProvider:
 * randomness, (EC)DHE, the transcript hash, HMAC and HKDF (RFC 5869, for the
 * key schedule, Finished, binders and the HelloRetryRequest cookie), AEAD
 * (record protection and ticket sealing) and CertificateVerify signatures.
 * The engine reaches it through its config (the `cryptoProvider` option), so
 * a test can run the whole engine on fixed inputs and replay recorded
 * handshakes byte for byte. Implementations must be synchronous and may be
 * shared by every connection of a server.
 */
export interface CryptoProvider {
  randomBytes(length: number): Buffer;
  generateKeyExchange(group: number): KeyExchange;
  startHash(hash: HashName): RunningHash;
  /** HMAC(key, data). `hash` 'sha256' also keys the HelloRetryRequest cookie. */
  hmac(hash: HashName, key: Uint8Array, data: Uint8Array): Buffer;
  /** HKDF-Extract(salt, IKM) (RFC 5869 §2.2). */
  hkdfExtract(hash: HashName, salt: Uint8Array, ikm: Uint8Array): Buffer;
  /** HKDF-Expand(PRK, info, L) (RFC 5869 §2.3). */
  hkdfExpand(hash: HashName, prk: Uint8Array, info: Uint8Array, length: number): Buffer;
  /** An encryption under `key` and `nonce`; 16-byte tag. Called once per record: keep it allocation-light. */
  aeadSealer(aead: AeadName, key: Buffer, nonce: Buffer): AeadSealer;
  aeadOpener(aead: AeadName, key: Buffer, nonce: Buffer): AeadOpener;
  /** A signature with `scheme` (RFC 8446 §4.2.3) over `content` (the CertificateVerify content, §4.4.3). */
  sign(scheme: number, key: PrivateKey, content: Buffer): Buffer;
  /** Whether `signature` is valid; false (never a throw) for a scheme or key it cannot use. */
  verify(scheme: number, key: PublicKey, content: Buffer, signature: Buffer): boolean;
}

/**
 * A client's default groups, in preference order: X25519 and P-256 first.
 * FFDHE is left out: a server we validate (ACME tls-alpn-01) could ask for
 * ffdhe4096 to make us spend milliseconds per connection; the `groups`
 * option turns it on.
 */
export const DEFAULT_CLIENT_GROUPS: readonly number[] = [
  NamedGroup.x25519,
  NamedGroup.secp256r1,
  NamedGroup.x448,
  NamedGroup.secp384r1,
  NamedGroup.secp521r1,
];

/**
 * A server's default: every group we implement, the RFC 7919 FFDHE groups
 * last. The server only settles on a group outside FAST_GROUPS when the
 * client shares none of those with us (handshake/server/choose.ts, chooseGroup).
 */
export const DEFAULT_SERVER_GROUPS: readonly number[] = [
  ...DEFAULT_CLIENT_GROUPS,
  NamedGroup.ffdhe2048,
  NamedGroup.ffdhe3072,
  NamedGroup.ffdhe4096,
];

/** The cheap groups (tens to hundreds of microseconds per handshake); the others cost milliseconds (README, groups). */
export const FAST_GROUPS: ReadonlySet<number> = new Set([NamedGroup.x25519, NamedGroup.secp256r1]);

/** Every group this engine can run. */
export function isImplementedGroup(group: number): boolean {
  return group === NamedGroup.x25519 || group === NamedGroup.x448 || isEcdhGroup(group) || isFfdheGroup(group);
}

/**
 * A key for `group` whose secret comes from `secret` (X25519/X448: the
 * private key; FFDHE: the exponent; P-256/384/521: the scalar when given,
 * else OpenSSL draws it). A test hands in fixed private keys here.
 */
export function generateKeyExchange(group: number, secret: (length: number) => Buffer, ecScalar?: (length: number) => Buffer): KeyExchange {
  if (group === NamedGroup.x25519 || group === NamedGroup.x448) return new XdhExchange(group, secret);
  if (isEcdhGroup(group)) return new EcdhExchange(group, ecScalar);
  if (isFfdheGroup(group)) return new FfdheExchange(group, secret);
  throw new TlsAlertError('internal_error', `no key exchange for group ${group}`);
}
