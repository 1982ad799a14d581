import type { PeerCertificates } from '../pkix/index.js';
import type { CipherSuite, NamedGroup, Tls12CipherSuite } from './codec/enums.js';
import type { CryptoProvider } from './crypto/provider.js';

/** A TLS 1.3 or TLS 1.2 cipher suite, by its IANA name. */
export type CipherSuiteName = keyof typeof CipherSuite | keyof typeof Tls12CipherSuite;
/** Protocol versions by node:tls's names. */
export type TlsVersionName = 'TLSv1.2' | 'TLSv1.3';
export type GroupName = keyof typeof NamedGroup;
export type ClientAuthMode = 'none' | 'request' | 'require';
export type PemInput = string | Uint8Array;

/** A certificate from the peer's verified chain, and the chain (leaf first): pkix's views, passed through as they are. */
export type { PeerCertificate, PeerCertificates } from '../pkix/index.js';

/**
 * The caller's own policy on a verified peer (ledger revocation, SPIFFE
 * authorization). Runs synchronously inside the handshake; throw a
 * TlsAlertError to pick the alert, anything else becomes bad_certificate.
 */
export type VerifyPeer = (peer: PeerCertificates) => void;

/**
 * The caller's check of the OCSP response the server stapled for its leaf
 * (RFC 6066 §8, RFC 8446 §4.4.2.1), as DER OCSPResponse bytes, or undefined
 * when the server stapled none. The engine does not parse OCSP: the hook
 * checks the response's signer, CertID, status and dates against `peer`.
 * Runs synchronously after the chain checks and `verifyPeer`; throw a
 * TlsAlertError to pick the alert, anything else becomes
 * bad_certificate_status_response.
 */
export type VerifyOcspStaple = (staple: Uint8Array | undefined, peer: PeerCertificates) => void;

export interface TlsCommonOptions {
  /** PEM private key (PKCS#8, SEC1 or PKCS#1). */
  readonly key?: PemInput;
  /** PEM certificate chain, leaf first. */
  readonly cert?: PemInput;
  /** PEM trust anchors used to verify the peer's chain. */
  readonly ca?: PemInput | readonly PemInput[];
  readonly ALPNProtocols?: readonly string[];
  /**
   * Cipher suites in preference order, TLS 1.3 and TLS 1.2 names alike; a
   * version none of whose suites is named keeps its default order.
   */
  readonly cipherSuites?: readonly CipherSuiteName[];
  /**
   * The lowest protocol version spoken, as node:tls names it (default 'TLSv1.2' for a server; a client offers
   * TLS 1.2 only when given 'TLSv1.2' here or as maxVersion, and TLS 1.3 alone otherwise).
   */
  readonly minVersion?: TlsVersionName;
  /** The highest protocol version spoken (default 'TLSv1.3'). */
  readonly maxVersion?: TlsVersionName;
  /**
   * Key-exchange groups in preference order. Default for a server: x25519,
   * secp256r1, x448, secp384r1, secp521r1, ffdhe2048, ffdhe3072, ffdhe4096
   * (a server takes a group other than x25519/secp256r1 only when the client
   * shares neither); for a client: the same without the ffdhe groups.
   * ffdhe6144 and ffdhe8192 (RFC 7919) are implemented but only used when named here.
   */
  readonly groups?: readonly GroupName[];
  /** Allowed difference between our clock and certificate validity, in ms (default 60 s). */
  readonly clockSkewMs?: number;
  readonly verifyPeer?: VerifyPeer;
  /** A handshake not finished within this time is aborted (default 10 s). */
  readonly handshakeTimeoutMs?: number;
  /**
   * Largest handshake message accepted, in bytes (default 64 KiB), checked
   * from its header (illegal_parameter past it). A ClientHello is accepted up
   * to its structural maximum of 131,396 bytes whatever this says.
   */
  readonly maxHandshakeMessageSize?: number;
  /** SSLKEYLOGFILE-format lines for debugging with Wireshark; for dev and tests only. */
  readonly onKeyLog?: (line: string) => void;
  /** Clock for certificate validity and ticket ages (ms since the epoch). */
  readonly now?: () => number;
  /**
   * The cryptography the engine runs on: randomness, key exchange, hashes,
   * HMAC/HKDF, AEAD and signatures (default: node:crypto). Replaced to run
   * on fixed inputs (the transcript replays in test/) or on another library.
   */
  readonly cryptoProvider?: CryptoProvider;
}

export interface TlsServerOptions extends TlsCommonOptions {
  /** Whether a client certificate is asked for and whether it is required (default 'none'). */
  readonly clientAuth?: ClientAuthMode;
  /** Issue NewSessionTicket after the handshake (default true). */
  readonly sessionTickets?: boolean;
  /** Ticket lifetime in seconds (default 2 h; never past the client certificate's notAfter). */
  readonly ticketLifetimeSeconds?: number;
  /** How often the ticket-sealing key rotates, in ms (default 1 h; the previous key still opens). */
  readonly ticketKeyRotationMs?: number;
  /**
   * The ticket-sealing key (32 bytes) of each rotation period, period =
   * floor(now / ticketKeyRotationMs). Servers given the same function resume
   * each other's tickets (a cluster derives it from a shared secret); tickets
   * of the current and the previous period open. Called about once a period;
   * must be deterministic. Default: random keys this server alone knows.
   */
  readonly ticketKeyForPeriod?: (period: number) => Uint8Array;
  /**
   * A fresh, pre-signed DER OCSPResponse for our own leaf certificate, or
   * undefined (or empty) to staple nothing. Called once per full handshake
   * whose client sent status_request for ocsp (RFC 6066 §8), and only then;
   * the response goes into the leaf's CertificateEntry (RFC 8446 §4.4.2.1).
   * Keep it cheap (hand out a cached response): it runs inside the handshake.
   * A throw, or a response over 65,527 bytes, ends the handshake with internal_error.
   */
  readonly ocspResponse?: () => Uint8Array | undefined;
  /**
   * TCP connections open at once, handshakes included; past it a new
   * connection is closed at once, before any byte is read, and the server
   * emits 'drop' (default: no cap).
   */
  readonly maxConnections?: number;
  /**
   * Sources that put a PROXY protocol header (v1 or v2) before TLS: a TCP
   * balancer in front of several servers. From a source this returns true
   * for, the header is required (a connection without a valid one is closed)
   * and the client it names becomes the socket's remoteAddress; from any
   * other source no header is looked for. Default: none.
   */
  readonly proxyProtocolFrom?: (remoteAddress: string) => boolean;
  /**
   * Keep a socket's writable side open after the peer's close_notify, so
   * requests that came before it can still be answered (RFC 8446 §6.1: it
   * closes only the peer's write side). The reader then ends the socket
   * (default false: the socket ends when the peer's input does, as node:tls).
   */
  readonly allowHalfOpen?: boolean;
  /**
   * Where to cut received plaintext before it is handed to the reader: the
   * length of the first piece (an HTTP/1.1 server cuts after each request
   * head, so pipelined requests reach it one by one and its own pause can
   * stop them). Default: a record's plaintext in one piece.
   */
  readonly splitInbound?: (plaintext: Buffer) => number;
  /**
   * 0-RTT (RFC 8446 §2.3, §4.2.10): the max_early_data_size our tickets
   * advertise, in bytes; 0 (the default) issues tickets without early_data
   * and never accepts 0-RTT. Early data is accepted only on this server
   * instance (the one whose strike register saw it), once per ClientHello,
   * within `earlyDataAgeToleranceMs` of the ticket age the client claims.
   */
  readonly maxEarlyData?: number;
  /** §8.3: how far the client's ticket age may be from ours, in ms (default 10 s). */
  readonly earlyDataAgeToleranceMs?: number;
  /** §8.2: ClientHellos the anti-replay register holds; when full, 0-RTT is refused (default 65,536). */
  readonly earlyDataReplayCacheSize?: number;
}

export interface TlsConnectOptions extends TlsCommonOptions {
  readonly host?: string;
  readonly port?: number;
  /** SNI and the name checked against the server certificate (default: host, unless it is an IP). */
  readonly servername?: string;
  /** A ticket from an earlier connection's 'session' event, offered for resumption. */
  readonly session?: Uint8Array;
  /** Stores tickets per server and offers them on later connections (used when `session` is not given). */
  readonly sessionCache?: import('./net/session-cache.js').SessionCache;
  /** Verify the server's chain (default true). */
  readonly rejectUnauthorized?: boolean;
  /** Send status_request for an OCSP staple (RFC 6066 §8; default: whether `verifyOcspStaple` is given). */
  readonly requestOcspStaple?: boolean;
  /** Checks the stapled OCSP response, or its absence; runs only when the chain is verified (`rejectUnauthorized`), as `verifyPeer` does. */
  readonly verifyOcspStaple?: VerifyOcspStaple;
  /**
   * 0-RTT (RFC 8446 §2.3): plaintext sent with the ClientHello when the
   * offered session's ticket allows early data and it fits its
   * max_early_data_size. It is replayable: send only idempotent requests.
   * If the server refuses it, it is sent again, after the handshake, as
   * ordinary data (§4.2.10); `earlyDataAccepted` tells which happened.
   */
  readonly earlyData?: Uint8Array;
  /** An already connected transport to run TLS over, instead of host/port. */
  readonly socket?: import('node:stream').Duplex;
}
