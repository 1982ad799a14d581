import type { ProxiedPeer } from './proxy-protocol.js';

/* The TLS socket's options and its per-connection limits (see TlsSocket for how they bound memory). */

/**
 * Bytes queued for the transport (plaintext not yet sealed, records not yet
 * taken by the kernel) past which no more received plaintext is handed on:
 * a peer that does not read its answers stops being read.
 */
export const MAX_BUFFERED_OUTPUT = 64 * 1024;
/** Plaintext sealed per transport write: a large answer is sealed piece by piece as the transport drains. */
export const WRITE_PIECE = 64 * 1024;
/**
 * Sealed records waiting for the turn's one transport write, at or below
 * which a write completes at once (like a net.Socket write under its
 * high-water mark); above it the writer waits for the transport.
 */
export const EARLY_COMPLETION_BYTES = 16 * 1024;
/**
 * Records handled, and time spent, before the socket yields to the event
 * loop (setImmediate): a chunk of thousands of tiny records cannot hold the
 * loop for more than a few milliseconds.
 */
export const RECORDS_PER_TURN = 64;
export const TURN_BUDGET_MS = 1;
/** Pieces of plaintext handed to the reader per connection per turn. */
export const PIECES_PER_TURN = 2;
export interface TlsSocketOptions {
  /** The client as a PROXY protocol header named it (behind a TCP balancer); default the transport's peer. */
  readonly peer?: ProxiedPeer;
  /** A handshake not finished within this time is aborted with handshake_failure. */
  readonly handshakeTimeoutMs: number;
  /** Keep the writable side open after the peer's close_notify (RFC 8446 §6.1 closes only its write side). */
  readonly allowHalfOpen?: boolean;
  /**
   * Where to cut received plaintext before handing it on: the length of the
   * first piece. An HTTP/1.1 server cuts after each request head, so its
   * own pause takes effect between pipelined requests, not after a whole record of them.
   */
  readonly splitInbound?: (plaintext: Buffer) => number;
}

export interface CipherInfo {
  readonly name: string;
  readonly standardName: string;
  readonly version: 'TLSv1.2' | 'TLSv1.3';
}

/** OpenSSL's names for the suites, as node:tls reports them in getCipher().name. */
export const OPENSSL_NAMES: Readonly<Record<string, string>> = {
  TLS_AES_128_GCM_SHA256: 'TLS_AES_128_GCM_SHA256',
  TLS_AES_256_GCM_SHA384: 'TLS_AES_256_GCM_SHA384',
  TLS_CHACHA20_POLY1305_SHA256: 'TLS_CHACHA20_POLY1305_SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
};
