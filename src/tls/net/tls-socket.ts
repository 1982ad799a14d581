import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { TlsAlertError } from '../alert.js';
import { Connection } from '../connection.js';
import { CipherSuite, nameOf } from '../codec/enums.js';
import type { HandshakeResult } from '../handshake/state.js';
import type { PeerCertificate, PeerCertificates } from '../options.js';

export interface CipherInfo {
  readonly name: string;
  readonly standardName: string;
  readonly version: 'TLSv1.3';
}

/** OpenSSL's names for the suites, as node:tls reports them in getCipher().name. */
const OPENSSL_NAMES: Readonly<Record<string, string>> = {
  TLS_AES_128_GCM_SHA256: 'TLS_AES_128_GCM_SHA256',
  TLS_AES_256_GCM_SHA384: 'TLS_AES_256_GCM_SHA384',
  TLS_CHACHA20_POLY1305_SHA256: 'TLS_CHACHA20_POLY1305_SHA256',
};

/**
 * A TLS connection as a Node Duplex: plaintext in and out, records on the
 * transport underneath. Back-pressure runs both ways: a full readable side
 * pauses the transport, and writes complete when the transport took them.
 */
export class TlsSocket extends Duplex {
  /** node:http and fastify read this to tell https from http. */
  readonly encrypted = true;
  /** The verified peer chain, leaf first; empty when the peer sent none. */
  peerCertificates: readonly PeerCertificate[] = [];
  peer: PeerCertificates | undefined;
  alpnProtocol: string | false = false;
  servername: string | undefined;
  protocol: 'TLSv1.3' | null = null;
  cipher: CipherInfo | undefined;
  isResumed = false;
  /**
   * The DER OCSPResponse the server stapled for its leaf (client side, on a
   * full handshake that asked with `requestOcspStaple`); undefined otherwise.
   */
  ocspResponse: Uint8Array | undefined;
  /** Whether the handshake completed. */
  isSecure = false;
  /** Set by node:http when it adopts the socket. */
  server: unknown;

  private connection: Connection | undefined;
  private hasPeerClosed = false;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private pendingWrites: { chunk: Buffer; callback: (error?: Error | null) => void }[] = [];

  constructor(readonly transport: Socket, handshakeTimeoutMs: number) {
    super({ allowHalfOpen: false });
    transport.on('data', (chunk: Buffer) => this.onTransportData(chunk));
    transport.on('end', () => this.onTransportEnd());
    transport.on('close', () => {
      if (!this.destroyed) this.destroy();
    });
    // Writing our close_notify to a peer that already closed can fail with EPIPE or ECONNRESET; that is a normal end.
    transport.on('error', (err: NodeJS.ErrnoException) => this.destroy(this.hasPeerClosed && (err.code === 'EPIPE' || err.code === 'ECONNRESET') ? undefined : err));
    transport.on('timeout', () => this.emit('timeout'));
    transport.on('drain', () => this.emit('transportDrain'));
    this.handshakeTimer = setTimeout(() => this.failHandshake(), handshakeTimeoutMs);
    this.handshakeTimer.unref();
  }

  /** Attaches the engine; separate from the constructor so the hooks can point back at this socket. */
  attach(connection: Connection): void {
    this.connection = connection;
  }

  // ---- engine hooks ----

  onHandshakeComplete(result: HandshakeResult): void {
    clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    this.isSecure = true;
    this.peer = result.peer;
    this.peerCertificates = result.peer?.chain ?? [];
    this.alpnProtocol = result.alpnProtocol;
    this.servername = result.servername;
    this.protocol = 'TLSv1.3';
    const name = nameOf(CipherSuite, result.suite.id);
    this.cipher = { name: OPENSSL_NAMES[name] ?? name, standardName: name, version: 'TLSv1.3' };
    this.isResumed = result.isResumed;
    this.ocspResponse = result.ocspResponse;
    // Flushing happens after the engine returns; 'secure' fires then too.
    queueMicrotask(() => {
      if (this.destroyed) return;
      this.emit('secure');
      const queued = this.pendingWrites;
      this.pendingWrites = [];
      for (const w of queued) this.writeNow(w.chunk, w.callback);
    });
  }

  onData(data: Buffer): void {
    if (!this.push(data)) this.transport.pause();
  }

  onPeerClose(): void {
    this.hasPeerClosed = true;
    this.push(null);
  }

  // ---- transport in ----

  private onTransportData(chunk: Buffer): void {
    const connection = this.connection!;
    try {
      connection.receive(chunk);
    } catch (err) {
      this.flush();
      this.fail(err);
      return;
    }
    this.flush();
  }

  private onTransportEnd(): void {
    this.hasPeerClosed = true;
    if (!this.isSecure) {
      this.destroy(new TlsAlertError('handshake_failure', 'peer closed the connection during the handshake', { isRemote: true }));
      return;
    }
    // A transport end without close_notify is a truncation; the readable side ends either way.
    this.push(null);
  }

  private flush(): void {
    if (this.connection?.hasOutgoing === true && !this.transport.destroyed) this.send(this.connection.takeOutgoingChunks());
  }

  /** Writes records; several parts go out as one vectored write (cork/uncork), none copied. */
  private send(chunks: Buffer[], callback?: (err?: Error | null) => void): void {
    const transport = this.transport;
    if (chunks.length === 1) {
      transport.write(chunks[0]!, callback);
      return;
    }
    transport.cork();
    const last = chunks.length - 1;
    for (let i = 0; i < last; i++) transport.write(chunks[i]!);
    transport.write(chunks[last]!, callback);
    transport.uncork();
  }

  private fail(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    // The alert was queued by the engine and flushed above; let it leave before closing.
    this.transport.end();
    this.destroy(error);
  }

  private failHandshake(): void {
    const connection = this.connection;
    if (connection === undefined || this.isSecure || this.destroyed) return;
    const error = connection.abort('handshake_failure', 'handshake timed out');
    this.flush();
    this.fail(error);
  }

  // ---- Duplex ----

  override _read(): void {
    if (this.transport.isPaused()) this.transport.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (!this.isSecure) {
      this.pendingWrites.push({ chunk, callback });
      return;
    }
    this.writeNow(chunk, callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    const data = chunks.length === 1 ? chunks[0]!.chunk : Buffer.concat(chunks.map((c) => c.chunk));
    this._write(data, 'latin1', callback);
  }

  private writeNow(chunk: Buffer, callback: (error?: Error | null) => void): void {
    const connection = this.connection!;
    try {
      connection.write(chunk);
    } catch (err) {
      this.flush();
      callback(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    if (!connection.hasOutgoing) return callback();
    // The callback waits for the transport, which is how back-pressure reaches the writer.
    this.send(connection.takeOutgoingChunks(), (err) => callback(err ?? null));
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.transport.writable) {
      this.connection?.close();
      this.flush();
      this.transport.end();
    }
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.handshakeTimer);
    for (const w of this.pendingWrites) w.callback(error ?? new Error('socket destroyed'));
    this.pendingWrites = [];
    if (!this.transport.destroyed) {
      if (error === null && this.connection?.isConnected === true) {
        this.connection.close();
        this.flush();
      }
      this.transport.destroySoon();
    }
    callback(error);
  }

  // ---- what node:http and callers expect of a socket ----

  /** Rotates our traffic key (RFC 8446 §4.6.3); with `requestPeer` the peer rotates too. */
  keyUpdate(requestPeer = false): void {
    this.connection?.updateKeys(requestPeer);
    this.flush();
  }

  get remoteAddress(): string | undefined {
    return this.transport.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.transport.remotePort;
  }

  get remoteFamily(): string | undefined {
    return this.transport.remoteFamily;
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
