import { CipherSuite } from '../codec/enums.js';

export type HashName = 'sha256' | 'sha384';
export type AeadName = 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305';

/** What a TLS 1.3 cipher suite fixes: the AEAD and the transcript/HKDF hash (RFC 8446 §B.4). */
export interface SuiteInfo {
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
