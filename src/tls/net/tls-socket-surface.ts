import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import type { HandshakeResult } from '../handshake/state.js';
import type { PeerCertificate, PeerCertificates } from '../options.js';
import type { ProxiedPeer } from './proxy-protocol.js';
import { OPENSSL_NAMES, type CipherInfo } from './socket-options.js';

/**
 * What a TLS socket shows its users, shaped like node:tls's TLSSocket: the
 * session's properties once the handshake completed, and the transport's
 * addresses and options. The engine is driven by TlsSocket, which extends it.
 */
export abstract class TlsSocketSurface extends Duplex {
  /** node:http and fastify read this to tell https from http. */
  readonly encrypted = true;
  /** The verified peer chain, leaf first; empty when the peer sent none. */
  peerCertificates: readonly PeerCertificate[] = [];
  peer: PeerCertificates | undefined;
  alpnProtocol: string | false = false;
  servername: string | undefined;
  protocol: 'TLSv1.2' | 'TLSv1.3' | null = null;
  cipher: CipherInfo | undefined;
  isResumed = false;
  /**
   * The DER OCSPResponse the server stapled for its leaf (client side, on a
   * full handshake that asked with `requestOcspStaple`); undefined otherwise.
   */
  ocspResponse: Uint8Array | undefined;
  /** Whether the handshake completed. */
  isSecure = false;
  /** 0-RTT (RFC 8446 §2.3) was offered and accepted: the server read early data; the client's early data was taken. */
  earlyDataAccepted = false;
  /**
   * Server: plaintext bytes that arrived as 0-RTT. They come first, so the
   * first `earlyDataBytes` bytes the reader gets are early data: replayable,
   * and to be treated so (RFC 8470).
   */
  earlyDataBytes = 0;

  /** As node:tls's: whether the handshake resumed a session (a TLS 1.3 PSK or a TLS 1.2 ticket). */
  isSessionReused(): boolean {
    return this.isResumed;
  }
  /** Set by node:http when it adopts the socket. */
  server: unknown;

  /** `proxiedPeer`: the client a PROXY header named, if any. */
  constructor(
    readonly transport: Socket,
    private readonly proxiedPeer: ProxiedPeer | undefined,
    allowHalfOpen: boolean,
  ) {
    // One slice waits in the readable buffer at most: push() says "stop" as soon as the reader falls behind.
    super({ allowHalfOpen, readableHighWaterMark: 1 });
  }

  /** Takes the session's properties from the finished handshake. */
  protected adoptHandshake(result: HandshakeResult): void {
    this.isSecure = true;
    this.peer = result.peer;
    this.peerCertificates = result.peer?.chain ?? [];
    this.alpnProtocol = result.alpnProtocol;
    this.servername = result.servername;
    this.protocol = result.suite.version;
    const name = result.suite.name;
    this.cipher = { name: OPENSSL_NAMES[name] ?? name, standardName: name, version: result.suite.version };
    this.isResumed = result.isResumed;
    this.ocspResponse = result.ocspResponse;
  }

  // ---- what node:http and callers expect of a socket ----

  get remoteAddress(): string | undefined {
    return this.proxiedPeer?.address ?? this.transport.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.proxiedPeer?.port ?? this.transport.remotePort;
  }

  get remoteFamily(): string | undefined {
    return this.proxiedPeer?.family ?? this.transport.remoteFamily;
  }

  get localAddress(): string | undefined {
    return this.transport.localAddress;
  }

  get localPort(): number | undefined {
    return this.transport.localPort;
  }

  address(): ReturnType<Socket['address']> {
    return this.transport.address();
  }

  setTimeout(ms: number, callback?: () => void): this {
    this.transport.setTimeout(ms);
    if (callback !== undefined) this.once('timeout', callback);
    return this;
  }

  setNoDelay(noDelay?: boolean): this {
    this.transport.setNoDelay(noDelay);
    return this;
  }

  setKeepAlive(enable?: boolean, initialDelay?: number): this {
    this.transport.setKeepAlive(enable, initialDelay);
    return this;
  }

  ref(): this {
    this.transport.ref();
    return this;
  }

  unref(): this {
    this.transport.unref();
    return this;
  }
}
