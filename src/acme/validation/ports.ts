/**
 * What tls-alpn-01 needs from a TLS client. keysmith's own engine
 * (`connect` from src/tls) fits it structurally; the composition root hands
 * it in (STYLE.md §2.3: acme does not import tls).
 */

export interface AlpnDialOptions {
  /** The checked target address (an IP literal), never a name to resolve. */
  readonly host: string;
  readonly port: number;
  /** SNI: the DNS name, or the reverse-mapping name of an IP (RFC 8738 §6). */
  readonly servername: string;
  readonly ALPNProtocols: readonly string[];
  /** The responder's certificate is self-signed by design (RFC 8737 §3); the validator checks it itself. */
  readonly rejectUnauthorized: false;
  readonly handshakeTimeoutMs: number;
}

/** A client connection after (or during) its handshake. */
export interface AlpnSocket {
  /** The protocol the server selected, false when it selected none. */
  readonly alpnProtocol: string | false;
  /** The peer's chain as sent, leaf first (unverified when rejectUnauthorized is false). */
  readonly peerCertificates: readonly { readonly raw: Uint8Array }[];
  once(event: 'secure' | 'close', listener: () => void): unknown;
  once(event: 'error', listener: (error: Error) => void): unknown;
  destroy(): unknown;
}

export type AlpnDial = (options: AlpnDialOptions) => AlpnSocket;
