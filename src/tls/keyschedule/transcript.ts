import { createHash, type Hash } from 'node:crypto';
import type { HashName } from '../crypto/suites.js';
import { HandshakeType } from '../codec/enums.js';

const EMPTY_SHA256 = createHash('sha256').digest();
const EMPTY_SHA384 = createHash('sha384').digest();

/**
 * The handshake transcript (RFC 8446 §4.4.1): a running hash once the suite
 * is known. A HelloRetryRequest replaces ClientHello1 with a synthetic
 * message_hash message carrying its hash.
 */
export class Transcript {
  private readonly hash: Hash;

  constructor(readonly hashName: HashName) {
    this.hash = createHash(hashName);
  }

  add(message: Uint8Array): void {
    this.hash.update(message);
  }

  current(): Buffer {
    return this.hash.copy().digest();
  }

  /** The hash as if `extra` were added, without adding it (for PSK binders). */
  hashWith(extra: Uint8Array): Buffer {
    return this.hash.copy().update(extra).digest();
  }

  /** Starts the transcript after HRR: message_hash(Hash(ClientHello1)). */
  static afterRetry(hashName: HashName, clientHello1: Uint8Array): Transcript {
    const digest = createHash(hashName).update(clientHello1).digest();
    const t = new Transcript(hashName);
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
