import type { CryptoProvider, RunningHash } from '../crypto/provider.js';
import type { HashName } from '../crypto/suites.js';
import { HandshakeType } from '../codec/enums.js';

/** Hash("") for each suite hash (FIPS 180-4), constants the key schedule uses for "derived" and binder keys. */
const EMPTY_SHA256 = Buffer.from('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'hex');
const EMPTY_SHA384 = Buffer.from('38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b', 'hex');

/**
 * The handshake transcript (RFC 8446 §4.4.1): a running hash once the suite
 * is known. A HelloRetryRequest replaces ClientHello1 with a synthetic
 * message_hash message carrying its hash.
 */
export class Transcript {
  private readonly hash: RunningHash;

  constructor(
    crypto: CryptoProvider,
    readonly hashName: HashName,
  ) {
    this.hash = crypto.startHash(hashName);
  }

  add(message: Uint8Array): void {
    this.hash.update(message);
  }

  current(): Buffer {
    return this.hash.copy().digest();
  }

  /** The hash as if `extra` were added, without adding it (for PSK binders). */
  hashWith(extra: Uint8Array): Buffer {
    const copy = this.hash.copy();
    copy.update(extra);
    return copy.digest();
  }

  /** Starts the transcript after HRR: message_hash(Hash(ClientHello1)). */
  static afterRetry(crypto: CryptoProvider, hashName: HashName, clientHello1: Uint8Array): Transcript {
    const first = new Transcript(crypto, hashName);
    first.add(clientHello1);
    const digest = first.current();
    const t = new Transcript(crypto, hashName);
    const header = Buffer.of(HandshakeType.message_hash, 0, 0, digest.length);
    t.add(header);
    t.add(digest);
    return t;
  }

  /** Hash of the empty string, a constant per hash (used by "derived" and binder keys). */
  static emptyHash(hashName: HashName): Buffer {
    return hashName === 'sha256' ? EMPTY_SHA256 : EMPTY_SHA384;
  }
}
