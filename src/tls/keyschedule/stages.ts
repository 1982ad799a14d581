import { createHmac } from 'node:crypto';
import type { HashName } from '../crypto/suites.js';
import { deriveSecret, expandLabel, hkdfExtract } from './hkdf.js';
import { Transcript } from './transcript.js';

/**
 * The TLS 1.3 key schedule (RFC 8446 §7.1) as three stages. Each stage
 * exposes only the derivations legal at that point, so a traffic secret
 * cannot be taken from the wrong stage by mistake.
 */
export class EarlySecret {
  readonly secret: Buffer;
  private readonly hasPsk: boolean;

  constructor(readonly hash: HashName, psk?: Uint8Array) {
    this.hasPsk = psk !== undefined;
    this.secret = psk === undefined ? noPskSecrets(hash).early : hkdfExtract(hash, Buffer.alloc(hashLength(hash)), psk);
  }

  /** binder_key for resumption ("res binder") or external ("ext binder") PSKs. */
  binderKey(kind: 'res' | 'ext'): Buffer {
    return deriveSecret(this.hash, this.secret, `${kind} binder`, Transcript.emptyHash(this.hash));
  }

  clientEarlyTrafficSecret(transcriptHash: Uint8Array): Buffer {
    return deriveSecret(this.hash, this.secret, 'c e traffic', transcriptHash);
  }

  toHandshakeSecret(sharedSecret: Uint8Array): HandshakeSecret {
    // Without a PSK the early secret, and so its "derived" secret, is a constant.
    const derived = this.hasPsk ? deriveSecret(this.hash, this.secret, 'derived', Transcript.emptyHash(this.hash)) : noPskSecrets(this.hash).derived;
    return new HandshakeSecret(this.hash, hkdfExtract(this.hash, derived, sharedSecret));
  }
}

export class HandshakeSecret {
  constructor(readonly hash: HashName, readonly secret: Buffer) {}

  clientHandshakeTrafficSecret(transcriptHash: Uint8Array): Buffer {
    return deriveSecret(this.hash, this.secret, 'c hs traffic', transcriptHash);
  }

  serverHandshakeTrafficSecret(transcriptHash: Uint8Array): Buffer {
    return deriveSecret(this.hash, this.secret, 's hs traffic', transcriptHash);
  }

  toMasterSecret(): MasterSecret {
    const derived = deriveSecret(this.hash, this.secret, 'derived', Transcript.emptyHash(this.hash));
    return new MasterSecret(this.hash, hkdfExtract(this.hash, derived, Buffer.alloc(hashLength(this.hash))));
  }
}

export class MasterSecret {
  constructor(readonly hash: HashName, readonly secret: Buffer) {}

  clientApplicationTrafficSecret(transcriptHash: Uint8Array): Buffer {
    return deriveSecret(this.hash, this.secret, 'c ap traffic', transcriptHash);
  }

  serverApplicationTrafficSecret(transcriptHash: Uint8Array): Buffer {
    return deriveSecret(this.hash, this.secret, 's ap traffic', transcriptHash);
  }

  exporterMasterSecret(transcriptHash: Uint8Array): Buffer {
    return deriveSecret(this.hash, this.secret, 'exp master', transcriptHash);
  }

  resumptionMasterSecret(transcriptHash: Uint8Array): Buffer {
    return deriveSecret(this.hash, this.secret, 'res master', transcriptHash);
  }
}

const noPskCache = new Map<HashName, { early: Buffer; derived: Buffer }>();

/** Early Secret = HKDF-Extract(0, 0) and its "derived" secret: fixed per hash. */
function noPskSecrets(hash: HashName): { early: Buffer; derived: Buffer } {
  let cached = noPskCache.get(hash);
  if (cached === undefined) {
    const zeros = Buffer.alloc(hashLength(hash));
    const early = hkdfExtract(hash, zeros, zeros);
    cached = { early, derived: deriveSecret(hash, early, 'derived', Transcript.emptyHash(hash)) };
    noPskCache.set(hash, cached);
  }
  return cached;
}

export function hashLength(hash: HashName): number {
  return hash === 'sha256' ? 32 : 48;
}

/** Record protection key and IV for a traffic secret (RFC 8446 §7.3). */
export function trafficKeys(hash: HashName, keyLength: number, secret: Uint8Array): { key: Buffer; iv: Buffer } {
  return {
    key: expandLabel(hash, secret, 'key', Buffer.alloc(0), keyLength),
    iv: expandLabel(hash, secret, 'iv', Buffer.alloc(0), 12),
  };
}

/** verify_data of a Finished message (RFC 8446 §4.4.4); also the PSK binder. */
export function finishedVerifyData(hash: HashName, baseKey: Uint8Array, transcriptHash: Uint8Array): Buffer {
  const finishedKey = expandLabel(hash, baseKey, 'finished', Buffer.alloc(0), hashLength(hash));
  return createHmac(hash, finishedKey).update(transcriptHash).digest();
}

/** application_traffic_secret_N+1 (RFC 8446 §7.2). */
export function nextTrafficSecret(hash: HashName, secret: Uint8Array): Buffer {
  return expandLabel(hash, secret, 'traffic upd', Buffer.alloc(0), hashLength(hash));
}

/** The PSK for a ticket (RFC 8446 §4.6.1). */
export function resumptionPsk(hash: HashName, resumptionMasterSecret: Uint8Array, ticketNonce: Uint8Array): Buffer {
  return expandLabel(hash, resumptionMasterSecret, 'resumption', ticketNonce, hashLength(hash));
}
