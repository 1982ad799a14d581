import type { Socket } from 'node:net';
import { TlsAlertError } from '../alert.js';
import type { Connection } from '../connection.js';
import type { HandshakeResult } from '../handshake/state.js';
import type { EarlyDataOutcome } from '../early-data-channel.js';
import { OutputBatch } from './output-batch.js';
import { EARLY_COMPLETION_BYTES, MAX_BUFFERED_OUTPUT, WRITE_PIECE, type TlsSocketOptions } from './socket-options.js';
import { TlsSocketReader } from './tls-socket-reader.js';

export type { CipherInfo, TlsSocketOptions } from './socket-options.js';

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
export class TlsSocket extends TlsSocketReader {
  private hasPeerClosed = false;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private pendingWrites: { chunk: Buffer; callback: (error?: Error | null) => void }[] = [];
  private isReaderPaused = false;
  private holds = 0;
  /** Sealed records not yet written: after the handshake, one transport write per turn (see OutputBatch). */
  private readonly output: OutputBatch;

  constructor(transport: Socket, options: TlsSocketOptions) {
    super(transport, options.peer, options.allowHalfOpen ?? false, options.splitInbound);
    this.output = new OutputBatch(transport);
    transport.on('data', (chunk: Buffer) => this.onTransportData(chunk));
    transport.on('end', () => this.onTransportEnd());
    transport.on('close', () => {
      if (!this.destroyed) this.destroy();
    });
    // Writing our close_notify to a peer that already closed can fail with EPIPE or ECONNRESET; that is a normal end.
    transport.on('error', (err: NodeJS.ErrnoException) =>
      this.destroy(this.hasPeerClosed && (err.code === 'EPIPE' || err.code === 'ECONNRESET') ? undefined : err),
    );
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
    this.adoptHandshake(result);
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
    // Before the handshake completes only accepted 0-RTT is read (the engine refuses anything else).
    if (!this.isSecure) this.earlyDataBytes += data.length;
    this.plaintext.push(data);
  }

  /** What became of 0-RTT; a server that accepted it is resuming and may answer before the handshake ends. */
  onEarlyData(outcome: EarlyDataOutcome): void {
    this.earlyDataAccepted = outcome.accepted;
    if (outcome.accepted) this.isResumed = true;
    this.emit('earlyData', outcome);
  }

  onPeerClose(): void {
    this.hasPeerClosed = true;
    this.endInput();
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
    // Transport data arrives only while nothing is left from before (the transport is paused otherwise): a new turn.
    this.onRecordsBuffered();
  }

  private onTransportEnd(): void {
    this.hasPeerClosed = true;
    if (!this.isSecure) {
      this.destroy(new TlsAlertError('handshake_failure', 'peer closed the connection during the handshake', { isRemote: true }));
      return;
    }
    // A transport end without close_notify is a truncation; the readable side ends either way.
    this.endInput();
    this.pump();
  }

  protected mayDeliver(): boolean {
    return (
      !this.isReaderPaused &&
      this.holds === 0 &&
      this.readableLength < this.readableHighWaterMark &&
      this.bufferedOutput < MAX_BUFFERED_OUTPUT
    );
  }

  /** Plaintext not yet sealed plus records not yet taken by the kernel. */
  get bufferedOutput(): number {
    return this.writableLength + this.output.bytes + this.transport.writableLength;
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
  protected flush(): void {
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

  protected fail(err: unknown): void {
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
    if (!this.isSecure && this.connection?.earlyData.isHalfRttWritable !== true) {
      this.pendingWrites.push({ chunk, callback });
      return;
    }
    this.writeNow(chunk, callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    const [first] = chunks;
    const data = chunks.length === 1 && first !== undefined ? first.chunk : Buffer.concat(chunks.map((c) => c.chunk));
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

  /** Client: 0-RTT the server refused goes first after the handshake, ahead of later writes (RFC 8446 §4.2.10). */
  resendFirst(data: Buffer): void {
    this.pendingWrites.unshift({ chunk: data, callback: () => undefined });
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
    this.stopPump();
    // Records whose writes already completed still leave, as bytes a net.Socket took would (an error answer
    // written just before destroy(err), as node:http's clientError handlers do); a clean destroy adds close_notify.
    if (this.transport.destroyed) this.output.drop(error ?? new Error('socket destroyed'));
    for (const w of this.pendingWrites) w.callback(error ?? new Error('socket destroyed'));
    this.pendingWrites = [];
    if (!this.transport.destroyed) {
      if (error === null && this.connection?.isConnected === true) this.connection.close();
      this.flushNow();
      this.transport.destroySoon();
    }
    callback(error);
  }

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
}
