import { CipherSuite, Tls12CipherSuite } from '../codec/enums.js';

export type HashName = 'sha256' | 'sha384';
export type AeadName = 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305';

/** What a TLS 1.3 cipher suite fixes: the AEAD and the transcript/HKDF hash (RFC 8446 §B.4). */
export interface SuiteInfo {
  readonly version: 'TLSv1.3';
  readonly id: CipherSuite;
  readonly name: keyof typeof CipherSuite;
  readonly hash: HashName;
  readonly hashLength: number;
  readonly aead: AeadName;
  readonly keyLength: number;
  /**
   * Records sealed under one key before we must rotate (RFC 8446 §5.5; for
   * AES-GCM 2^24.5 full-size records, rounded down). ChaCha20-Poly1305 has no
   * practical limit, but one bound keeps the logic simple.
   */
  readonly recordLimit: number;
}

export const SUITES: ReadonlyMap<number, SuiteInfo> = new Map<number, SuiteInfo>([
  [
    CipherSuite.TLS_AES_128_GCM_SHA256,
    {
      version: 'TLSv1.3',
      id: CipherSuite.TLS_AES_128_GCM_SHA256,
      name: 'TLS_AES_128_GCM_SHA256',
      hash: 'sha256',
      hashLength: 32,
      aead: 'aes-128-gcm',
      keyLength: 16,
      recordLimit: 2 ** 24,
    },
  ],
  [
    CipherSuite.TLS_AES_256_GCM_SHA384,
    {
      version: 'TLSv1.3',
      id: CipherSuite.TLS_AES_256_GCM_SHA384,
      name: 'TLS_AES_256_GCM_SHA384',
      hash: 'sha384',
      hashLength: 48,
      aead: 'aes-256-gcm',
      keyLength: 32,
      recordLimit: 2 ** 24,
    },
  ],
  [
    CipherSuite.TLS_CHACHA20_POLY1305_SHA256,
    {
      version: 'TLSv1.3',
      id: CipherSuite.TLS_CHACHA20_POLY1305_SHA256,
      name: 'TLS_CHACHA20_POLY1305_SHA256',
      hash: 'sha256',
      hashLength: 32,
      aead: 'chacha20-poly1305',
      keyLength: 32,
      recordLimit: 2 ** 24,
    },
  ],
]);

export const DEFAULT_SUITE_ORDER: readonly CipherSuite[] = [
  CipherSuite.TLS_AES_128_GCM_SHA256,
  CipherSuite.TLS_AES_256_GCM_SHA384,
  CipherSuite.TLS_CHACHA20_POLY1305_SHA256,
];

export function suiteInfo(id: number): SuiteInfo | undefined {
  return SUITES.get(id);
}

/** How a TLS 1.2 suite's server authenticates: the key type its certificate must hold (RFC 8422 §2). */
export type Tls12Auth = 'ECDSA' | 'RSA';

/** What a key of this type can authenticate in TLS 1.2: ECDHE_ECDSA an EC (or EdDSA, RFC 8422 §2) key, ECDHE_RSA an RSA one. */
export function tls12AuthOf(keyType: string | undefined): Tls12Auth | undefined {
  if (keyType === 'ec' || keyType === 'ed25519') return 'ECDSA';
  return keyType === 'rsa' ? 'RSA' : undefined;
}

/**
 * What a TLS 1.2 suite fixes (RFC 5246 §6.3, RFC 5288 §3, RFC 7905 §2): the
 * PRF hash, the AEAD with its key and fixed IV lengths, the explicit nonce
 * carried in each record, and the server's certificate key type.
 */
export interface Tls12SuiteInfo {
  readonly version: 'TLSv1.2';
  readonly id: Tls12CipherSuite;
  readonly name: keyof typeof Tls12CipherSuite;
  /** The PRF hash (RFC 5246 §5) and the Finished/handshake hash. */
  readonly hash: HashName;
  readonly hashLength: number;
  readonly aead: AeadName;
  readonly keyLength: number;
  /** client/server_write_IV length from the key block: 4 (GCM salt) or 12 (ChaCha20-Poly1305). */
  readonly fixedIvLength: number;
  /** nonce_explicit in each record: 8 for GCM (RFC 5288 §3), 0 for ChaCha20-Poly1305 (RFC 7905 §2). */
  readonly explicitNonceLength: number;
  readonly auth: Tls12Auth;
  /** TLS 1.2 has no KeyUpdate; a connection is closed rather than run past 2^24 records under one key. */
  readonly recordLimit: number;
}

function tls12Suite(name: keyof typeof Tls12CipherSuite, auth: Tls12Auth, aead: AeadName): Tls12SuiteInfo {
  const isChaCha = aead === 'chacha20-poly1305';
  const hash: HashName = aead === 'aes-256-gcm' ? 'sha384' : 'sha256';
  return {
    version: 'TLSv1.2',
    id: Tls12CipherSuite[name],
    name,
    hash,
    hashLength: hash === 'sha256' ? 32 : 48,
    aead,
    keyLength: aead === 'aes-128-gcm' ? 16 : 32,
    fixedIvLength: isChaCha ? 12 : 4,
    explicitNonceLength: isChaCha ? 0 : 8,
    auth,
    recordLimit: 2 ** 24,
  };
}

export const TLS12_SUITES: ReadonlyMap<number, Tls12SuiteInfo> = new Map<number, Tls12SuiteInfo>(
  [
    tls12Suite('TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 'ECDSA', 'aes-128-gcm'),
    tls12Suite('TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384', 'ECDSA', 'aes-256-gcm'),
    tls12Suite('TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', 'RSA', 'aes-128-gcm'),
    tls12Suite('TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384', 'RSA', 'aes-256-gcm'),
    tls12Suite('TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256', 'RSA', 'chacha20-poly1305'),
    tls12Suite('TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256', 'ECDSA', 'chacha20-poly1305'),
  ].map((info) => [info.id, info]),
);

/** Our TLS 1.2 preference: ECDSA before RSA, AES-128-GCM, AES-256-GCM, then ChaCha20-Poly1305 (as the 1.3 order). */
export const DEFAULT_TLS12_SUITE_ORDER: readonly Tls12CipherSuite[] = [
  Tls12CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
  Tls12CipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
  Tls12CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
  Tls12CipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
  Tls12CipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
  Tls12CipherSuite.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
];

export function tls12SuiteInfo(id: number): Tls12SuiteInfo | undefined {
  return TLS12_SUITES.get(id);
}

/** A negotiated suite of either version; `version` tells them apart. */
export type AnySuiteInfo = SuiteInfo | Tls12SuiteInfo;
