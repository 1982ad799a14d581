/** Code points from the IANA TLS registries, named as RFC 8446 spells them. */

export const ContentType = {
  change_cipher_spec: 20,
  alert: 21,
  handshake: 22,
  application_data: 23,
} as const;
export type ContentType = (typeof ContentType)[keyof typeof ContentType];

export const HandshakeType = {
  /** TLS 1.2 only (RFC 5246 §7.4.1.1): we never send it and refuse it (no renegotiation). */
  hello_request: 0,
  client_hello: 1,
  server_hello: 2,
  new_session_ticket: 4,
  end_of_early_data: 5,
  encrypted_extensions: 8,
  certificate: 11,
  /** TLS 1.2 (RFC 5246 §7.4.3). */
  server_key_exchange: 12,
  certificate_request: 13,
  /** TLS 1.2 (RFC 5246 §7.4.5). */
  server_hello_done: 14,
  certificate_verify: 15,
  /** TLS 1.2 (RFC 5246 §7.4.7). */
  client_key_exchange: 16,
  finished: 20,
  /** TLS 1.2 OCSP stapling (RFC 6066 §8). */
  certificate_status: 22,
  key_update: 24,
  message_hash: 254,
} as const;
export type HandshakeType = (typeof HandshakeType)[keyof typeof HandshakeType];

export const ExtensionType = {
  server_name: 0,
  status_request: 5,
  supported_groups: 10,
  signature_algorithms: 13,
  application_layer_protocol_negotiation: 16,
  padding: 21,
  /** RFC 8449 §4. */
  record_size_limit: 28,
  pre_shared_key: 41,
  early_data: 42,
  supported_versions: 43,
  cookie: 44,
  psk_key_exchange_modes: 45,
  certificate_authorities: 47,
  oid_filters: 48,
  post_handshake_auth: 49,
  signature_algorithms_cert: 50,
  key_share: 51,
} as const;
export type ExtensionType = (typeof ExtensionType)[keyof typeof ExtensionType];

/**
 * Extensions only TLS 1.2 uses, kept out of ExtensionType so the TLS 1.3
 * checks of which extension may appear where (codec/extensions.ts) stay as
 * they are: to a TLS 1.3 message these remain unknown types.
 */
export const Tls12ExtensionType = {
  /** RFC 8422 §5.1.2. */
  ec_point_formats: 11,
  /** RFC 7627 §5.1. */
  extended_master_secret: 23,
  /** RFC 5077 §3.2. */
  session_ticket: 35,
  /** RFC 5746 §3.2. */
  renegotiation_info: 0xff01,
} as const;
export type Tls12ExtensionType = (typeof Tls12ExtensionType)[keyof typeof Tls12ExtensionType];

/** NamedGroup (RFC 8446 §4.2.7; RFC 7919 §2 for the ffdhe groups). */
export const NamedGroup = {
  secp256r1: 0x0017,
  secp384r1: 0x0018,
  secp521r1: 0x0019,
  x25519: 0x001d,
  x448: 0x001e,
  ffdhe2048: 0x0100,
  ffdhe3072: 0x0101,
  ffdhe4096: 0x0102,
  ffdhe6144: 0x0103,
  ffdhe8192: 0x0104,
} as const;
export type NamedGroup = (typeof NamedGroup)[keyof typeof NamedGroup];

export const SignatureScheme = {
  rsa_pkcs1_sha256: 0x0401,
  rsa_pkcs1_sha384: 0x0501,
  rsa_pkcs1_sha512: 0x0601,
  ecdsa_secp256r1_sha256: 0x0403,
  ecdsa_secp384r1_sha384: 0x0503,
  ecdsa_secp521r1_sha512: 0x0603,
  rsa_pss_rsae_sha256: 0x0804,
  rsa_pss_rsae_sha384: 0x0805,
  rsa_pss_rsae_sha512: 0x0806,
  ed25519: 0x0807,
  rsa_pss_pss_sha256: 0x0809,
} as const;
export type SignatureScheme = (typeof SignatureScheme)[keyof typeof SignatureScheme];

export const CipherSuite = {
  TLS_AES_128_GCM_SHA256: 0x1301,
  TLS_AES_256_GCM_SHA384: 0x1302,
  TLS_CHACHA20_POLY1305_SHA256: 0x1303,
} as const;
export type CipherSuite = (typeof CipherSuite)[keyof typeof CipherSuite];

/**
 * The TLS 1.2 suites we speak: ECDHE with an AEAD only (RFC 5289 §3.2,
 * RFC 7905 §2), nothing TLS 1.3 removed (no RSA key transport, no CBC).
 */
export const Tls12CipherSuite = {
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 0xc02b,
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 0xc02c,
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 0xc02f,
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 0xc030,
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 0xcca8,
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 0xcca9,
} as const;
export type Tls12CipherSuite = (typeof Tls12CipherSuite)[keyof typeof Tls12CipherSuite];

/** RFC 5746 §3.3: the signalling cipher suite value that stands for an empty renegotiation_info. */
export const TLS_EMPTY_RENEGOTIATION_INFO_SCSV = 0x00ff;

/** ECCurveType (RFC 8422 §5.4): named_curve is the only one allowed. */
export const EcCurveType = { named_curve: 3 } as const;

/** ECPointFormat (RFC 8422 §5.1.2): uncompressed is the only one in use. */
export const EcPointFormat = { uncompressed: 0 } as const;

/** ClientCertificateType (RFC 5246 §7.4.4, RFC 8422 §5.5). */
export const ClientCertificateType = { rsa_sign: 1, ecdsa_sign: 64 } as const;

/** CompressionMethod (RFC 5246 §7.4.1.2): null is the only one we take. */
export const CompressionMethod = { null: 0 } as const;

/** CertificateStatusType (RFC 6066 §8, IANA "TLS Certificate Status Types"); other values stay plain numbers. */
export const CertificateStatusType = { ocsp: 1 } as const;

export const PskKeyExchangeMode = { psk_ke: 0, psk_dhe_ke: 1 } as const;

export const KeyUpdateRequest = { update_not_requested: 0, update_requested: 1 } as const;

export const ProtocolVersion = { TLS12: 0x0303, TLS13: 0x0304 } as const;

export const AlertLevel = { warning: 1, fatal: 2 } as const;

/** Reverse look-up for logs and traces; unknown values print as numbers. */
export function nameOf(table: Readonly<Record<string, number>>, value: number): string {
  for (const [name, v] of Object.entries(table)) if (v === value) return name;
  return `unknown(0x${value.toString(16)})`;
}
