import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { TlsAlertError } from '../alert.js';
import { Connection } from '../connection.js';
import { CipherSuite, nameOf } from '../codec/enums.js';
import type { HandshakeResult } from '../handshake/state.js';
import type { PeerCertificate, PeerCertificates } from '../options.js';
import { MAX_PLAINTEXT } from '../record/limits.js';
import { OutputBatch } from './output-batch.js';
import type { ProxiedPeer } from './proxy-protocol.js';

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
/** Opened plaintext waits here up to one record's worth (2^14 bytes) or this many pieces. */
const MAX_QUEUED_PIECES = 64;
/** A first piece shorter than this is joined with the ones after it before being cut. */
const COALESCE_BELOW = 1024;
const EMPTY = Buffer.alloc(0);

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
 * transport underneath. Back-pressure runs both ways, and memory per
 * connection is bounded:
 * - in: records are opened one at a time, only while the reader wants
 *   plaintext (not paused, nothing buffered, no hold, output below
 *   MAX_BUFFERED_OUTPUT); meanwhile the transport is paused, so at most one
 *   transport read (64 KiB) of ciphertext and one record of plaintext wait here;
 * - out: sealed WRITE_PIECE at a time; a write completes once sealed while
 *   at most EARLY_COMPLETION_BYTES wait for the transport, else when the
 *   transport took it; records leave through an OutputBatch.
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
  private readonly splitInbound: ((plaintext: Buffer) => number) | undefined;
  /** Opened plaintext not yet handed on: at most one record's worth. */
  private plaintext: Buffer[] = [];
  private plaintextBytes = 0;
  /** Received bytes may hold a record not yet opened. */
  private hasRecords = false;
  /** close_notify (or an end of the transport) came: the readable side ends once the plaintext before it is handed on. */
  private isInputEnded = false;
  private hasPushedEnd = false;
  private isReaderPaused = false;
  private holds = 0;
  private isPumping = false;
  private isPumpWanted = false;
  /** Delivery stopped on a full reader, a hold or full output; the matching event restarts it. */
  private isBlocked = false;
  private recordsSinceYield = 0;
  private piecesSinceYield = 0;
  private yieldTimer: NodeJS.Immediate | undefined;
  /** Sealed records not yet written: after the handshake, one transport write per turn (see OutputBatch). */
  private readonly output: OutputBatch;

  /** The client a PROXY header named, if any. */
  private readonly proxiedPeer: ProxiedPeer | undefined;

  constructor(readonly transport: Socket, options: TlsSocketOptions) {
    // One slice waits in the readable buffer at most: push() says "stop" as soon as the reader falls behind.
    super({ allowHalfOpen: options.allowHalfOpen ?? false, readableHighWaterMark: 1 });
    this.splitInbound = options.splitInbound;
    this.proxiedPeer = options.peer;
    this.output = new OutputBatch(transport);
    transport.on('data', (chunk: Buffer) => this.onTransportData(chunk));
    transport.on('end', () => this.onTransportEnd());
    transport.on('close', () => {
      if (!this.destroyed) this.destroy();
    });
    // Writing our close_notify to a peer that already closed can fail with EPIPE or ECONNRESET; that is a normal end.
    transport.on('error', (err: NodeJS.ErrnoException) => this.destroy(this.hasPeerClosed && (err.code === 'EPIPE' || err.code === 'ECONNRESET') ? undefined : err));
    transport.on('timeout', () => this.emit('timeout'));
    transport.on('drain', () => this.emit('transportDrain'));
    this.handshakeTimer = setTimeout(() => this.failHandshake(), options.handshakeTimeoutMs);
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
    this.plaintext.push(data);
    this.plaintextBytes += data.length;
  }

  onPeerClose(): void {
    this.hasPeerClosed = true;
    this.isInputEnded = true;
  }

  // ---- transport in ----

  private onTransportData(chunk: Buffer): void {
    const connection = this.connection;
    if (connection === undefined || this.destroyed) return;
    try {
      // Only buffered here; records are opened by pump() as the reader takes their plaintext.
      connection.receive(chunk, 0);
    } catch (err) {
      this.flush();
      this.fail(err);
      return;
    }
    this.hasRecords = true;
    // Transport data arrives only while nothing is left from before (the transport is paused otherwise): a new turn.
    this.recordsSinceYield = 0;
    this.piecesSinceYield = 0;
    this.pump();
  }

  private onTransportEnd(): void {
    this.hasPeerClosed = true;
    if (!this.isSecure) {
      this.destroy(new TlsAlertError('handshake_failure', 'peer closed the connection during the handshake', { isRemote: true }));
      return;
    }
    // A transport end without close_notify is a truncation; the readable side ends either way.
    this.isInputEnded = true;
    this.pump();
  }

  /**
   * Opens records and hands their plaintext on while the reader wants it,
   * within a budget per turn of the event loop; pauses the transport
   * whenever it stops with work left.
   */
  private pump(): void {
    if (this.isPumping) {
      this.isPumpWanted = true;
      return;
    }
    this.isPumping = true;
    try {
      do {
        this.isPumpWanted = false;
        this.pumpOnce();
      } while (this.isPumpWanted && !this.destroyed && this.yieldTimer === undefined);
    } finally {
      this.isPumping = false;
    }
  }

  private pumpOnce(): void {
    const connection = this.connection;
    if (connection === undefined || this.destroyed || this.yieldTimer !== undefined) return;
    this.isBlocked = false;
    const deadline = performance.now() + TURN_BUDGET_MS;
    for (;;) {
      if (this.hasRecords && this.plaintextBytes < MAX_PLAINTEXT && this.plaintext.length < MAX_QUEUED_PIECES) {
        if (this.recordsSinceYield >= RECORDS_PER_TURN || performance.now() >= deadline) return this.yieldWithWorkLeft();
        try {
          this.hasRecords = connection.receive(EMPTY, 1);
        } catch (err) {
          this.flush();
          this.fail(err);
          return;
        }
        this.recordsSinceYield++;
        this.flush();
        continue;
      }
      if (this.plaintextBytes > 0) {
        // One piece (with splitInbound: one request head) per connection per turn, so pipelined requests from
        // many connections are served in turn, not one connection's whole pipeline before the next.
        if (this.piecesSinceYield >= PIECES_PER_TURN) return this.yieldWithWorkLeft();
        if (!this.mayDeliver()) {
          this.isBlocked = true;
          this.transport.pause();
          return;
        }
        this.deliverOne();
        if (this.destroyed) return;
        continue;
      }
      if (this.isInputEnded && !this.hasPushedEnd) {
        this.hasPushedEnd = true;
        this.push(null);
      }
      if (!this.transport.destroyed) this.transport.resume();
      return;
    }
  }

  private yieldWithWorkLeft(): void {
    this.transport.pause();
    this.yieldTurn();
  }

  /** Hands the reader one piece of the opened plaintext, cut where splitInbound says. */
  private deliverOne(): void {
    // Tiny records leave tiny pieces: join them (at most MAX_QUEUED_PIECES, about two records' worth) before cutting.
    if (this.plaintext.length > 1 && this.plaintext[0]!.length < COALESCE_BELOW) this.plaintext = [Buffer.concat(this.plaintext)];
    const head = this.plaintext[0]!;
    const cut = Math.max(1, Math.min(head.length, this.splitInbound?.(head) ?? head.length));
    if (cut === head.length) this.plaintext.shift();
    else this.plaintext[0] = head.subarray(cut);
    this.plaintextBytes -= cut;
    this.piecesSinceYield++;
    this.push(cut === head.length ? head : head.subarray(0, cut));
  }

  private mayDeliver(): boolean {
    return !this.isReaderPaused && this.holds === 0 && this.readableLength < this.readableHighWaterMark && this.bufferedOutput < MAX_BUFFERED_OUTPUT;
  }

  /** Plaintext not yet sealed plus records not yet taken by the kernel. */
  get bufferedOutput(): number {
    return this.writableLength + this.output.bytes + this.transport.writableLength;
  }

  /**
   * Restarts delivery stopped by a reader, a hold or full output, on the
   * next turn of the event loop: never inside the caller's stack, and never
   * on a microtask, whose chains (write done, next request, its answer
   * written at once) would otherwise let one connection run its whole
   * pipeline before any other connection is served.
   */
  private schedulePump(): void {
    if (!this.isBlocked) return;
    this.yieldTurn();
  }

  private yieldTurn(): void {
    if (this.yieldTimer !== undefined || this.destroyed) return;
    this.yieldTimer = setImmediate(() => {
      this.yieldTimer = undefined;
      this.recordsSinceYield = 0;
      this.piecesSinceYield = 0;
      this.pump();
    });
  }

  /**
   * Stops handing received plaintext on until a matching release: the HTTP
   * server's cap on requests in flight per connection.
   */
  holdInbound(): void {
    this.holds++;
  }

  releaseInbound(): void {
    if (this.holds === 0) return;
    this.holds--;
    if (this.holds === 0) this.schedulePump();
  }

  /**
   * Takes the engine's sealed records. During the handshake they go out at
   * once (the peer waits for the flight); after it they join the turn's batch.
   */
  private flush(): void {
    this.collectOutgoing();
    if (!this.isSecure) this.output.flush();
    else this.output.schedule();
  }

  private collectOutgoing(): void {
    const connection = this.connection;
    if (connection?.hasOutgoing === true) this.output.add(connection.takeOutgoingChunks());
  }

  /** Writes every record made so far, now. */
  private flushNow(): void {
    this.collectOutgoing();
    this.output.flush();
  }

  private fail(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    this.flushNow();
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
    this.schedulePump();
  }

  override pause(): this {
    this.isReaderPaused = true;
    return super.pause();
  }

  override resume(): this {
    this.isReaderPaused = false;
    super.resume();
    this.schedulePump();
    return this;
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

  /** Seals at most WRITE_PIECE bytes, and seals the rest only once the transport took those. */
  private writeNow(chunk: Buffer, callback: (error?: Error | null) => void): void {
    const connection = this.connection;
    if (connection === undefined) return callback(new Error('socket has no TLS connection'));
    const piece = chunk.length > WRITE_PIECE ? chunk.subarray(0, WRITE_PIECE) : chunk;
    try {
      connection.write(piece);
    } catch (err) {
      this.flush();
      callback(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    const rest = piece === chunk ? undefined : chunk.subarray(WRITE_PIECE);
    this.collectOutgoing();
    if (rest === undefined && this.output.bytes + this.transport.writableLength <= EARLY_COMPLETION_BYTES) {
      // A small answer is as good as written: the turn's batch takes it, and a close that follows joins the same write.
      this.output.schedule();
      callback();
      this.schedulePump();
      return;
    }
    // Otherwise the callback waits for the transport, which is how back-pressure reaches the writer.
    this.output.onWritten((err) => {
      if (err !== undefined && err !== null) return callback(err);
      if (rest !== undefined && !this.destroyed) return this.writeNow(rest, callback);
      callback();
      this.schedulePump();
    });
    this.flushNow();
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.transport.writable) {
      this.connection?.close();
      // The batch (an answer, a ticket) and the close_notify leave in one write, then the FIN.
      this.flushNow();
      this.transport.end();
    }
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.handshakeTimer);
    if (this.yieldTimer !== undefined) clearImmediate(this.yieldTimer);
    this.yieldTimer = undefined;
    // Records whose writes already completed still leave, as bytes a net.Socket took would (an error answer
    // written just before destroy(err), as node:http's clientError handlers do); a clean destroy adds close_notify.
    if (this.transport.destroyed) this.output.drop(error ?? new Error('socket destroyed'));
    this.plaintext = [];
    this.plaintextBytes = 0;
    for (const w of this.pendingWrites) w.callback(error ?? new Error('socket destroyed'));
    this.pendingWrites = [];
    if (!this.transport.destroyed) {
      if (error === null && this.connection?.isConnected === true) this.connection.close();
      this.flushNow();
      this.transport.destroySoon();
    }
    callback(error);
  }

  // ---- what node:http and callers expect of a socket ----

  /** Ends the writable side (close_notify) and destroys once it is flushed, as net.Socket does; node:http calls it after a last response. */
  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once('finish', () => this.destroy());
  }

  /** Rotates our traffic key (RFC 8446 §4.6.3); with `requestPeer` the peer rotates too. */
  keyUpdate(requestPeer = false): void {
    this.connection?.updateKeys(requestPeer);
    this.flush();
  }

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
