import type { CryptoProvider } from '../crypto/provider.js';
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

  constructor(
    private readonly crypto: CryptoProvider,
    readonly hash: HashName,
    psk?: Uint8Array,
  ) {
    this.hasPsk = psk !== undefined;
    this.secret = psk === undefined ? noPskSecrets(crypto, hash).early : hkdfExtract(crypto, hash, Buffer.alloc(hashLength(hash)), psk);
  }

  /** binder_key for resumption ("res binder") or external ("ext binder") PSKs. */
  binderKey(kind: 'res' | 'ext'): Buffer {
    return deriveSecret(this.crypto, this.hash, this.secret, `${kind} binder`, Transcript.emptyHash(this.hash));
  }

  clientEarlyTrafficSecret(transcriptHash: Uint8Array): Buffer {
    return deriveSecret(this.crypto, this.hash, this.secret, 'c e traffic', transcriptHash);
  }

  toHandshakeSecret(sharedSecret: Uint8Array): HandshakeSecret {
    // Without a PSK the early secret, and so its "derived" secret, is a constant.
    const derived = this.hasPsk
      ? deriveSecret(this.crypto, this.hash, this.secret, 'derived', Transcript.emptyHash(this.hash))
      : noPskSecrets(this.crypto, this.hash).derived;
    return new HandshakeSecret(this.crypto, this.hash, hkdfExtract(this.crypto, this.hash, derived, sharedSecret));
  }
}

export class HandshakeSecret {
  constructor(
    private readonly crypto: CryptoProvider,
    readonly hash: HashName,
    readonly secret: Buffer,
  ) {}

  clientHandshakeTrafficSecret(transcriptHash: Uint8Array): Buffer {
    return deriveSecret(this.crypto, this.hash, this.secret, 'c hs traffic', transcriptHash);
  }

  serverHandshakeTrafficSecret(transcriptHash: Uint8Array): Buffer {
    return deriveSecret(this.crypto, this.hash, this.secret, 's hs traffic', transcriptHash);
  }

  toMasterSecret(): MasterSecret {
    const derived = deriveSecret(this.crypto, this.hash, this.secret, 'derived', Transcript.emptyHash(this.hash));
    return new MasterSecret(this.crypto, this.hash, hkdfExtract(this.crypto, this.hash, derived, Buffer.alloc(hashLength(this.hash))));
  }
}

export class MasterSecret {
  constructor(
    private readonly crypto: CryptoProvider,
    readonly hash: HashName,
    readonly secret: Buffer,
  ) {}

  clientApplicationTrafficSecret(transcriptHash: Uint8Array): Buffer {
    return deriveSecret(this.crypto, this.hash, this.secret, 'c ap traffic', transcriptHash);
  }

  serverApplicationTrafficSecret(transcriptHash: Uint8Array): Buffer {
    return deriveSecret(this.crypto, this.hash, this.secret, 's ap traffic', transcriptHash);
  }

  exporterMasterSecret(transcriptHash: Uint8Array): Buffer {
    return deriveSecret(this.crypto, this.hash, this.secret, 'exp master', transcriptHash);
  }

  resumptionMasterSecret(transcriptHash: Uint8Array): Buffer {
    return deriveSecret(this.crypto, this.hash, this.secret, 'res master', transcriptHash);
  }
}

interface NoPskSecrets {
  readonly early: Buffer;
  readonly derived: Buffer;
}

/** Per provider, per hash: a provider is shared by every connection of a server, so this is computed once. */
const noPskCache = new WeakMap<CryptoProvider, Map<HashName, NoPskSecrets>>();

/** Early Secret = HKDF-Extract(0, 0) and its "derived" secret: fixed per hash. */
function noPskSecrets(crypto: CryptoProvider, hash: HashName): NoPskSecrets {
  let perHash = noPskCache.get(crypto);
  if (perHash === undefined) {
    perHash = new Map();
    noPskCache.set(crypto, perHash);
  }
  let cached = perHash.get(hash);
  if (cached === undefined) {
    const zeros = Buffer.alloc(hashLength(hash));
    const early = hkdfExtract(crypto, hash, zeros, zeros);
    cached = { early, derived: deriveSecret(crypto, hash, early, 'derived', Transcript.emptyHash(hash)) };
    perHash.set(hash, cached);
  }
  return cached;
}

const EMPTY = Buffer.alloc(0);

export function hashLength(hash: HashName): number {
  return hash === 'sha256' ? 32 : 48;
}

/** Record protection key and IV for a traffic secret (RFC 8446 §7.3). */
export function trafficKeys(crypto: CryptoProvider, hash: HashName, keyLength: number, secret: Uint8Array): { key: Buffer; iv: Buffer } {
  return {
    key: expandLabel(crypto, hash, secret, 'key', EMPTY, keyLength),
    iv: expandLabel(crypto, hash, secret, 'iv', EMPTY, 12),
  };
}

/** verify_data of a Finished message (RFC 8446 §4.4.4); also the PSK binder. */
export function finishedVerifyData(crypto: CryptoProvider, hash: HashName, baseKey: Uint8Array, transcriptHash: Uint8Array): Buffer {
  const finishedKey = expandLabel(crypto, hash, baseKey, 'finished', EMPTY, hashLength(hash));
  return crypto.hmac(hash, finishedKey, transcriptHash);
}

/** application_traffic_secret_N+1 (RFC 8446 §7.2). */
export function nextTrafficSecret(crypto: CryptoProvider, hash: HashName, secret: Uint8Array): Buffer {
  return expandLabel(crypto, hash, secret, 'traffic upd', EMPTY, hashLength(hash));
}

/** The PSK for a ticket (RFC 8446 §4.6.1). */
export function resumptionPsk(crypto: CryptoProvider, hash: HashName, resumptionMasterSecret: Uint8Array, ticketNonce: Uint8Array): Buffer {
  return expandLabel(crypto, hash, resumptionMasterSecret, 'resumption', ticketNonce, hashLength(hash));
}
