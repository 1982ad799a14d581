import type { CryptoProvider } from '../crypto/provider.js';
import type { HashName, Tls12SuiteInfo } from '../crypto/suites.js';

/** RFC 5246 §8.1: the master secret is always 48 bytes. */
export const MASTER_SECRET_LENGTH = 48;
/** RFC 5246 §7.4.9: verify_data is 12 bytes for every suite we speak (none sets verify_data_length). */
export const VERIFY_DATA_LENGTH = 12;

/**
 * The TLS 1.2 PRF (RFC 5246 §5): P_hash(secret, label || seed), where
 * P_hash = HMAC(secret, A(1) || seed') || HMAC(secret, A(2) || seed') || ...
 * with A(0) = seed' and A(i) = HMAC(secret, A(i-1)), cut to `length`.
 */
export function prf12(crypto: CryptoProvider, hash: HashName, secret: Uint8Array, label: string, seed: Uint8Array, length: number): Buffer {
  const labelled = Buffer.concat([Buffer.from(label, 'latin1'), seed]);
  const blocks: Buffer[] = [];
  let produced = 0;
  let a: Buffer = labelled;
  while (produced < length) {
    a = crypto.hmac(hash, secret, a);
    const block = crypto.hmac(hash, secret, Buffer.concat([a, labelled]));
    blocks.push(block);
    produced += block.length;
  }
  return Buffer.concat(blocks).subarray(0, length);
}

/**
 * RFC 7627 §4: master_secret = PRF(pre_master_secret, "extended master secret",
 * session_hash)[0..47], session_hash being the hash of the handshake messages
 * up to and including ClientKeyExchange. We run only the extended form (§5.3).
 */
export function extendedMasterSecret(crypto: CryptoProvider, hash: HashName, preMasterSecret: Uint8Array, sessionHash: Uint8Array): Buffer {
  return prf12(crypto, hash, preMasterSecret, 'extended master secret', sessionHash, MASTER_SECRET_LENGTH);
}

/** One direction's AEAD key and fixed IV (the GCM salt, or ChaCha20-Poly1305's whole IV). */
export interface Tls12DirectionKeys {
  readonly key: Buffer;
  readonly iv: Buffer;
}

export interface Tls12KeyBlock {
  readonly client: Tls12DirectionKeys;
  readonly server: Tls12DirectionKeys;
}

/**
 * RFC 5246 §6.3: key_block = PRF(master_secret, "key expansion",
 * server_random || client_random), cut into client_write_MAC_key,
 * server_write_MAC_key (empty for AEAD suites), client_write_key,
 * server_write_key, client_write_IV, server_write_IV.
 */
export function tls12KeyBlock(
  crypto: CryptoProvider,
  suite: Tls12SuiteInfo,
  masterSecret: Uint8Array,
  clientRandom: Uint8Array,
  serverRandom: Uint8Array,
): Tls12KeyBlock {
  const { keyLength, fixedIvLength } = suite;
  const seed = Buffer.concat([serverRandom, clientRandom]);
  const block = prf12(crypto, suite.hash, masterSecret, 'key expansion', seed, 2 * keyLength + 2 * fixedIvLength);
  const ivAt = 2 * keyLength;
  return {
    client: { key: block.subarray(0, keyLength), iv: block.subarray(ivAt, ivAt + fixedIvLength) },
    server: { key: block.subarray(keyLength, ivAt), iv: block.subarray(ivAt + fixedIvLength, ivAt + 2 * fixedIvLength) },
  };
}

/**
 * RFC 5246 §7.4.9: verify_data = PRF(master_secret, finished_label,
 * Hash(handshake_messages))[0..11], the label "client finished" or
 * "server finished" by who sends it.
 */
export function tls12VerifyData(
  crypto: CryptoProvider,
  hash: HashName,
  masterSecret: Uint8Array,
  sender: 'client' | 'server',
  handshakeHash: Uint8Array,
): Buffer {
  return prf12(crypto, hash, masterSecret, `${sender} finished`, handshakeHash, VERIFY_DATA_LENGTH);
}
